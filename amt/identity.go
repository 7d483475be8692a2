package amt

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"github.com/amtkit/amtkit/wsman"
)

// serverPrefix starts the HTTP Server header of every AMT response.
const serverPrefix = "Intel(R) Active Management Technology"

// IsAMTServer reports whether an HTTP Server header names Intel AMT.
func IsAMTServer(server string) bool {
	return strings.HasPrefix(strings.TrimSpace(server), serverPrefix)
}

// ParseServerHeader returns the firmware version an AMT Server header
// names, e.g. "11.8.50.3425" from
// "Intel(R) Active Management Technology 11.8.50.3425".
func ParseServerHeader(server string) (string, bool) {
	s := strings.TrimSpace(server)
	if !strings.HasPrefix(s, serverPrefix) {
		return "", false
	}
	v := strings.TrimSpace(s[len(serverPrefix):])
	if v == "" {
		return "", false
	}
	return v, true
}

// Version is a firmware version, major.minor.hotfix.build.
type Version struct {
	Major, Minor, Hotfix, Build int
}

// ParseVersion reads "11.8.50.3425", "12.0.67" or "11.8".
func ParseVersion(s string) (Version, error) {
	parts := strings.Split(strings.TrimSpace(s), ".")
	if len(parts) < 2 || len(parts) > 4 {
		return Version{}, errors.New("amt: version " + strconv.Quote(s) + " is not major.minor[.hotfix[.build]]")
	}
	var n [4]int
	for i, p := range parts {
		// Digits only: Atoi alone would take "+11".
		v, err := strconv.Atoi(p)
		if err != nil || strings.TrimLeft(p, "0123456789") != "" {
			return Version{}, errors.New("amt: version " + strconv.Quote(s) + " is not numeric")
		}
		n[i] = v
	}
	return Version{n[0], n[1], n[2], n[3]}, nil
}

func (v Version) String() string {
	s := strconv.Itoa(v.Major) + "." + strconv.Itoa(v.Minor) + "." + strconv.Itoa(v.Hotfix)
	if v.Build != 0 {
		s += "." + strconv.Itoa(v.Build)
	}
	return s
}

// Identity is what a device says about itself without credentials.
type Identity struct {
	// Firmware is the full version from the HTTP Server header, such as
	// "11.8.50.3425"; empty when the header did not carry it.
	Firmware string
	// ProductVendor and ProductVersion come from WS-Man Identify
	// ("Intel(r)", "AMT 11.8"); empty when the device did not answer
	// Identify without credentials.
	ProductVendor   string
	ProductVersion  string
	ProtocolVersion string
	DASHVersion     string
	// SecurityProfiles are the WS-Man security profile URIs offered.
	SecurityProfiles []string
}

// Identify asks the device, without credentials, whether it is AMT and
// which version it runs. Firmware that demands credentials even for
// Identify still names its version in the Server header of its 401
// answer, which is used then. A device that is not AMT gives
// ErrNotDetected.
func (c *Client) Identify(ctx context.Context) (*Identity, error) {
	id, err := c.WSMan().Identify(ctx)
	if err != nil {
		var he *wsman.HTTPError
		if errors.As(err, &he) && he.StatusCode == 401 && IsAMTServer(he.Server) {
			v, _ := ParseServerHeader(he.Server)
			return &Identity{Firmware: v}, nil
		}
		if errors.Is(err, wsman.ErrMalformedResponse) && ctx.Err() == nil {
			// Identify is the probe for AMT: an answer that is not a
			// WS-Management Identify response (a web page, say) means
			// something else listens here.
			return nil, &Error{Host: c.host, Op: "Identify", Kind: ErrNotDetected, Err: err}
		}
		return nil, c.wrap("Identify", err)
	}
	out := &Identity{
		ProductVendor:    id.ProductVendor,
		ProductVersion:   id.ProductVersion,
		ProtocolVersion:  id.ProtocolVersion,
		DASHVersion:      id.DASHVersion,
		SecurityProfiles: id.SecurityProfiles,
	}
	out.Firmware, _ = ParseServerHeader(id.Server)
	if out.Firmware == "" && !strings.HasPrefix(id.ProductVendor, "Intel") {
		return nil, &Error{Host: c.host, Op: "Identify", Kind: ErrNotDetected,
			Err: errors.New("WS-Management vendor " + strconv.Quote(id.ProductVendor) + " is not Intel AMT")}
	}
	return out, nil
}
