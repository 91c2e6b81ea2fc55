package corralv1

import (
	"strconv"
	"strings"
)

// llamaGuardMax is the highest category of the Llama Guard 3 taxonomy; the
// enum numbers 1..llamaGuardMax equal its S codes.
const llamaGuardMax = 14

// LlamaGuardCode returns the Llama Guard 3 code of c ("S1" ... "S14"), or ""
// for categories outside that taxonomy.
func (c HazardCategory) LlamaGuardCode() string {
	if c < 1 || c > llamaGuardMax {
		return ""
	}
	return "S" + strconv.Itoa(int(c))
}

// HazardCategoryFromLlamaGuard maps a Llama Guard 3 code such as "S10" to its
// category. Surrounding spaces are ignored; it reports false for anything else.
func HazardCategoryFromLlamaGuard(code string) (HazardCategory, bool) {
	digits, ok := strings.CutPrefix(strings.TrimSpace(code), "S")
	if !ok || digits == "" || digits[0] == '0' || len(digits) > 2 ||
		strings.Trim(digits, "0123456789") != "" {
		return HazardCategory_HAZARD_CATEGORY_UNSPECIFIED, false
	}
	n, err := strconv.Atoi(digits)
	if err != nil || n > llamaGuardMax {
		return HazardCategory_HAZARD_CATEGORY_UNSPECIFIED, false
	}
	return HazardCategory(n), true
}
