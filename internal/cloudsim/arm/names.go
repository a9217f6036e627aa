package arm

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"unicode"
)

// Azure's naming rules for the resources burst names, from "Naming rules
// and restrictions for Azure resources"
// (https://learn.microsoft.com/azure/azure-resource-manager/management/resource-name-rules)
// and, for host names, the Compute API's osProfile documentation. ARM
// refuses a PUT whose name breaks them with 400 InvalidResourceName (the
// Compute RP answers InvalidParameter for host names); the simulator does
// the same, so a name burst derives that Azure would refuse fails here too.
const (
	NameResourceGroup      = "resource group"
	NameNSG                = "network security group"
	NameSecurityRule       = "security rule"
	NameVNet               = "virtual network"
	NameSubnet             = "subnet"
	NameNIC                = "network interface"
	NameIPConfig           = "IP configuration"
	NamePublicIP           = "public IP address"
	NameIdentity           = "user-assigned identity"
	NameScaleSet           = "virtual machine scale set"
	NameVM                 = "virtual machine"
	NameComputer           = "computer name"
	NameComputerNamePrefix = "computer name prefix"
)

type nameRule struct {
	min, max int
	re       *regexp.Regexp
	// forbidden characters, for the Compute rules that list what may not
	// appear rather than what may.
	forbidden string
	// noEnd lists characters the name may not end with.
	noEnd string
	rule  string
}

// Networking resources: alphanumerics, underscores, periods and hyphens;
// start with an alphanumeric, end with an alphanumeric or underscore.
var networkName = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$`)

// The characters Linux VM and scale set names may not contain, besides
// spaces and control characters.
const computeForbidden = "~!@#$%^&*()=+_[]{}\\|;:.'\",<>/?"

var nameRules = map[string]nameRule{
	NameResourceGroup: {1, 90, regexp.MustCompile(`^[-\w._()]+$`), "", ".",
		"letters, digits, underscores, hyphens, periods and parentheses, not ending with a period"},
	NameNSG:          {1, 80, networkName, "", "", networkRule},
	NameSecurityRule: {1, 80, networkName, "", "", networkRule},
	NameVNet:         {2, 64, networkName, "", "", networkRule},
	NameSubnet:       {1, 80, networkName, "", "", networkRule},
	NameNIC:          {1, 80, networkName, "", "", networkRule},
	NameIPConfig:     {1, 80, networkName, "", "", networkRule},
	NamePublicIP:     {1, 80, networkName, "", "", networkRule},
	NameIdentity: {3, 128, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]*$`), "", "",
		"letters, digits, hyphens and underscores, starting with a letter or digit"},
	NameScaleSet: {1, 64, nil, computeForbidden, ".-", computeRule},
	NameVM:       {1, 64, nil, computeForbidden, ".-", computeRule},
	// Linux host names: letters, digits and hyphens, not starting or
	// ending with a hyphen, at most 64 characters.
	NameComputer: {1, 64, regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`), "", "",
		"letters, digits and hyphens, not starting or ending with a hyphen"},
	// "Computer name prefixes must be 1 to 15 characters long"; Azure
	// appends six characters per VM.
	NameComputerNamePrefix: {1, 15, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`), "", "",
		"letters, digits and hyphens, starting with a letter or digit"},
}

const (
	networkRule = "letters, digits, underscores, periods and hyphens, starting with a letter or digit and ending with a letter, digit or underscore"
	computeRule = "no spaces, control characters or any of " + computeForbidden + ", not ending with a period or hyphen"
)

// ValidName checks a name against Azure's rule for what it names (one of
// the Name* constants) and says what is wrong.
func ValidName(what, name string) error {
	r, ok := nameRules[what]
	if !ok {
		return fmt.Errorf("no naming rule for %s", what)
	}
	bad := len(name) < r.min || len(name) > r.max ||
		(r.re != nil && !r.re.MatchString(name)) ||
		(r.forbidden != "" && strings.ContainsAny(name, r.forbidden)) ||
		(name != "" && strings.ContainsAny(name[len(name)-1:], r.noEnd)) ||
		strings.ContainsFunc(name, func(c rune) bool { return unicode.IsSpace(c) || unicode.IsControl(c) })
	if bad {
		label := what
		if !strings.HasSuffix(what, "name") && !strings.HasSuffix(what, "prefix") {
			label += " name"
		}
		return fmt.Errorf("%s %q is invalid: %d-%d characters; %s", label, name, r.min, r.max, r.rule)
	}
	return nil
}

// checkName is ValidName as ARM answers it.
func checkName(what, name string) *apiError {
	if err := ValidName(what, name); err != nil {
		code := "InvalidResourceName"
		if what == NameComputer || what == NameComputerNamePrefix {
			code = "InvalidParameter"
		}
		return errorf(http.StatusBadRequest, code, "%v", err)
	}
	return nil
}
