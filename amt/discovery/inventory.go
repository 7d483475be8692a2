package discovery

import (
	"context"
	"errors"
	"net"
	"strconv"

	"github.com/amtkit/amtkit/amt"
	"github.com/amtkit/amtkit/wsman"
)

// Classes of the capability record beyond amt.Client.Inventory.
var (
	uriRedirection   = wsman.ResourceURI("AMT_RedirectionService")
	uriOptIn         = wsman.ResourceURI("IPS_OptInService")
	uriSystemDefense = wsman.ResourceURI("AMT_GeneralSystemDefenseCapabilities")
)

// OptInRequired values (protocol.md §3.6).
const (
	optInNone = 0
	optInKVM  = 1
	optInAll  = 0xFFFFFFFF
)

// inventory runs stage 3: it logs in with the scan's credential source
// and fills r.Inventory. Over TLS it pins the certificate stage 2 saw
// (trust on first use) unless Options.NoTOFU is set.
func (s *scanner) inventory(ctx context.Context, r *Result) {
	o := s.opts
	var probe *Probe
	for i := range r.Probes {
		if r.Probes[i].Port == r.Port && r.Probes[i].AMT {
			probe = &r.Probes[i]
		}
	}
	if probe == nil {
		return
	}
	scheme := "http://"
	opts := []amt.Option{amt.WithCredentialSource(o.Source), amt.WithTimeout(o.InventoryTimeout)}
	if probe.TLS {
		scheme = "https://"
		if !o.NoTOFU && probe.CertSHA256 != "" {
			opts = append(opts, amt.WithPinnedCertificate(probe.CertSHA256))
		}
		if probe.LegacyTLS {
			opts = append(opts, amt.WithLegacyTLS())
		}
	}
	if o.Logger != nil {
		opts = append(opts, amt.WithLogger(o.Logger))
	}
	opts = append(opts, o.ClientOptions...)
	endpoint := scheme + net.JoinHostPort(r.Address.String(), strconv.Itoa(probe.Port))
	c, err := amt.New(endpoint, opts...)
	if err != nil {
		r.Classification, r.Err = Error, err
		return
	}
	defer c.CloseIdleConnections()

	inv, err := c.Inventory(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return
		}
		r.Err = err
		r.Classification = Error
		if errors.Is(err, amt.ErrAuthFailed) || errors.Is(err, amt.ErrLockedOut) {
			r.Classification = AuthFailed
		}
		return
	}
	capa := &Capability{
		Firmware:          inv.AMTVersion,
		Build:             inv.Build,
		SKU:               inv.SKU.Kind(),
		SKUValue:          uint32(inv.SKU),
		SKUFeatures:       inv.SKU.Features(),
		ProvisioningState: inv.ProvisioningState.String(),
		ProvisioningMode:  inv.ProvisioningMode.String(),
		Hostname:          inv.Hostname,
		DomainName:        inv.DomainName,
		UUID:              inv.UUID,
	}
	if res := c.Resolution(); res != nil {
		capa.CredentialOrigin = res.Origin.String()
		capa.CredentialProfile = res.Profile
	}
	unavailable := func(part string, err error) {
		if capa.Unavailable == nil {
			capa.Unavailable = map[string]string{}
		}
		if errors.Is(err, wsman.ErrDestinationUnreachable) || errors.Is(err, wsman.ErrActionNotSupported) {
			capa.Unavailable[part] = "not served by this firmware"
			return
		}
		capa.Unavailable[part] = err.Error()
	}

	if b, err := c.Power.BootCapabilities(ctx); err == nil {
		capa.BootCapabilities = b
		capa.Boot = bootFeatures(b)
	} else {
		unavailable("boot", err)
	}
	if st, err := c.Power.Status(ctx); err == nil {
		capa.PowerState = st.State.String()
	} else {
		unavailable("power_state", err)
	}
	ws := c.WSMan()
	if in, err := ws.Get(ctx, uriRedirection); err == nil {
		rd := &Redirection{}
		if v, err := in.Int("EnabledState"); err == nil {
			rd.EnabledState = int(v)
			if v >= 32768 && v <= 32771 {
				rd.IDER = v&1 != 0
				rd.SOL = v&2 != 0
			}
		}
		rd.Listener, _ = in.Bool("ListenerEnabled")
		capa.Redirection = rd
	} else {
		unavailable("redirection", err)
	}
	if in, err := ws.Get(ctx, uriOptIn); err == nil {
		if v, err := in.Uint("OptInRequired"); err == nil {
			switch v {
			case optInNone:
				capa.UserConsent = "none"
			case optInKVM:
				capa.UserConsent = "kvm"
			case optInAll:
				capa.UserConsent = "all"
			default:
				capa.UserConsent = strconv.FormatUint(v, 10)
			}
		} else {
			unavailable("user_consent", err)
		}
	} else {
		unavailable("user_consent", err)
	}
	if in, err := ws.Get(ctx, uriSystemDefense); err == nil {
		p, errP := in.Int("GlobalMaxSupportedPolicies")
		f, errF := in.Int("GlobalMaxSupportedFilters")
		if errP == nil || errF == nil {
			capa.SystemDefense = &SystemDefenseLimits{MaxPolicies: int(p), MaxFilters: int(f)}
		} else {
			unavailable("system_defense", errP)
		}
	} else {
		unavailable("system_defense", err)
	}
	if ctx.Err() != nil {
		return
	}

	r.Inventory = capa
	r.SKU = capa.SKU
	r.ProvisioningState = capa.ProvisioningState
	r.ProvisioningMode = capa.ProvisioningMode
	if inv.ProvisioningState != amt.PostProvisioning {
		r.Classification = NotProvisioned
	}
	if v := inv.AMTVersion; v != "" {
		if inv.Build != "" {
			v += "." + inv.Build
		}
		r.Version = v
	}
}
