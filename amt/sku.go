package amt

import (
	"strconv"
	"strings"
)

// SKU is the feature bitmask of CIM_SoftwareIdentity "Sku" (protocol.md §5.4).
type SKU uint32

// SKU bits.
const (
	SKUiQST                  SKU = 0x0002 // before AMT 7
	SKUASF                   SKU = 0x0004 // before AMT 6
	SKUFullAMT               SKU = 0x0008 // Intel AMT (full manageability)
	SKUStandardManageability SKU = 0x0010 // Intel Standard Manageability
	SKUTPM                   SKU = 0x0020 // before AMT 6
	SKUHomeIT                SKU = 0x0100 // before AMT 6
	SKUWOX                   SKU = 0x0400 // before AMT 6
	SKUAntiTheft             SKU = 0x2000
	SKUCorporate             SKU = 0x4000
	SKUManageabilityUpgrade  SKU = 0x8000 // before AMT 8
)

// Kind names the manageability level: "AMT" (full), "ISM" (Intel Standard
// Manageability, without KVM and some other features) or "unknown".
func (s SKU) Kind() string {
	switch {
	case s&SKUFullAMT != 0:
		return "AMT"
	case s&SKUStandardManageability != 0:
		return "ISM"
	}
	return "unknown"
}

// Features lists the names of the bits set.
func (s SKU) Features() []string {
	names := []struct {
		bit  SKU
		name string
	}{
		{SKUiQST, "iQST"}, {SKUASF, "ASF"}, {SKUFullAMT, "AMT"}, {SKUStandardManageability, "ISM"},
		{SKUTPM, "TPM"}, {SKUHomeIT, "HomeIT"}, {SKUWOX, "WOX"}, {SKUAntiTheft, "AT-p"},
		{SKUCorporate, "Corporate"}, {SKUManageabilityUpgrade, "LevelIIIUpgrade"},
	}
	var out []string
	for _, n := range names {
		if s&n.bit != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

// String gives the kind and the raw value, e.g. "AMT (16392: AMT+Corporate)".
func (s SKU) String() string {
	out := s.Kind() + " (" + strconv.FormatUint(uint64(s), 10)
	if f := s.Features(); len(f) > 0 {
		out += ": " + strings.Join(f, "+")
	}
	return out + ")"
}
