package main

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/amtkit/amtkit/amt/discovery"
	"github.com/amtkit/amtkit/power"
)

// discoverRecord is the JSON form of one address: every key always
// present, null when unknown.
type discoverRecord struct {
	Address           *string          `json:"address"`
	Host              *string          `json:"host"`
	AMT               bool             `json:"amt"`
	Classification    string           `json:"classification"`
	Firmware          *string          `json:"firmware"`
	ProvisioningState *string          `json:"provisioning_state"`
	ProvisioningMode  *string          `json:"provisioning_mode"`
	TLS               bool             `json:"tls"`
	Port              *int             `json:"port"`
	Realm             *string          `json:"realm"`
	SKU               *string          `json:"sku"`
	RMCP              bool             `json:"rmcp"`
	DASH              bool             `json:"dash"`
	ProductVersion    *string          `json:"product_version"`
	CertSHA256        *string          `json:"cert_sha256"`
	Error             *string          `json:"error"`
	Inventory         *inventoryRecord `json:"inventory"`
}

// inventoryRecord is discover --inventory's record of one machine.
type inventoryRecord struct {
	Firmware          *string                        `json:"firmware"`
	Build             *string                        `json:"build"`
	SKU               *string                        `json:"sku"`
	SKUValue          uint32                         `json:"sku_value"`
	SKUFeatures       []string                       `json:"sku_features"`
	ProvisioningState *string                        `json:"provisioning_state"`
	ProvisioningMode  *string                        `json:"provisioning_mode"`
	Hostname          *string                        `json:"hostname"`
	DomainName        *string                        `json:"domain_name"`
	UUID              *string                        `json:"uuid"`
	Boot              []string                       `json:"boot"`
	Redirection       *discovery.Redirection         `json:"redirection"`
	UserConsent       *string                        `json:"user_consent"`
	SystemDefense     *discovery.SystemDefenseLimits `json:"system_defense"`
	PowerState        *int                           `json:"power_state"`
	PowerStateName    *string                        `json:"power_state_name"`
	CredentialOrigin  *string                        `json:"credential_origin"`
	CredentialProfile *string                        `json:"credential_profile"`
	Unavailable       map[string]string              `json:"unavailable"`
}

func newDiscoverRecord(r *discovery.Result) discoverRecord {
	rec := discoverRecord{
		Host: str(r.Host), AMT: r.AMT, Classification: r.Classification.String(),
		ProvisioningState: str(r.ProvisioningState), TLS: r.TLS, Realm: str(r.Realm), SKU: str(r.SKU),
		RMCP: r.RMCP, DASH: r.DASH, ProductVersion: str(r.ProductVersion), CertSHA256: str(r.CertSHA256),
		Firmware: str(r.Version), Error: str(r.Error),
	}
	if r.Address.IsValid() {
		rec.Address = str(r.Address.String())
	}
	if r.Port != 0 {
		p := r.Port
		rec.Port = &p
	}
	if r.ProvisioningState == "post-provisioning" {
		rec.ProvisioningMode = str(r.ProvisioningMode)
	}
	if r.Err != nil && rec.Error == nil {
		rec.Error = str(r.Err.Error())
	}
	if c := r.Inventory; c != nil {
		inv := &inventoryRecord{
			Firmware: str(fullFirmware(c.Firmware, c.Build)), Build: str(c.Build), SKU: str(c.SKU), SKUValue: c.SKUValue,
			SKUFeatures: c.SKUFeatures, ProvisioningState: str(c.ProvisioningState), Hostname: str(c.Hostname),
			DomainName: str(c.DomainName), UUID: str(c.UUID), Boot: c.Boot, Redirection: c.Redirection,
			UserConsent: str(c.UserConsent), SystemDefense: c.SystemDefense,
			CredentialOrigin: str(c.CredentialOrigin), CredentialProfile: str(c.CredentialProfile),
			Unavailable: c.Unavailable,
		}
		if inv.SKUFeatures == nil {
			inv.SKUFeatures = []string{}
		}
		if inv.Unavailable == nil {
			inv.Unavailable = map[string]string{}
		}
		if c.ProvisioningState == "post-provisioning" {
			inv.ProvisioningMode = str(c.ProvisioningMode)
		}
		if c.PowerState != "" {
			inv.PowerStateName = str(c.PowerState)
			if st, err := power.ParseState(c.PowerState); err == nil {
				n := int(st)
				inv.PowerState = &n
			}
		}
		// The full version everywhere: the record's firmware, when the
		// probe saw only major.minor.
		if inv.Firmware != nil && (rec.Firmware == nil || strings.Count(*rec.Firmware, ".") < 3) {
			rec.Firmware = inv.Firmware
		}
		if inv.ProvisioningMode != nil {
			rec.ProvisioningMode = inv.ProvisioningMode
		}
		rec.Inventory = inv
	}
	return rec
}

// fullFirmware joins major.minor.hotfix and the build: 11.8.50.3425.
func fullFirmware(version, build string) string {
	if version == "" || build == "" || strings.Count(version, ".") >= 3 {
		return version
	}
	return version + "." + build
}

// discoverTable collects the results and prints them, sorted by address
// (numerically; host names that did not resolve last), once the scan
// ends.
type discoverTable struct {
	w         io.Writer
	inventory bool
	rows      []*discovery.Result
}

func (t *discoverTable) add(r *discovery.Result) { t.rows = append(t.rows, r) }

func (t *discoverTable) flush() error {
	sort.SliceStable(t.rows, func(i, j int) bool {
		a, b := t.rows[i], t.rows[j]
		switch {
		case a.Address.IsValid() && b.Address.IsValid():
			return a.Address.Less(b.Address)
		case a.Address.IsValid() != b.Address.IsValid():
			return a.Address.IsValid()
		}
		return a.Host < b.Host
	})
	if len(t.rows) == 0 {
		return nil
	}
	tw := newTable(t.w)
	h := "ADDRESS\tCLASS\tFIRMWARE\tSTATE\tMODE\tTLS\tSKU\tREALM\tCERT SHA-256"
	if t.inventory {
		h += "\tHOST NAME\tPOWER"
	}
	fmt.Fprintln(tw, h+"\tNOTE")
	dash := func(s *string) string {
		if s == nil || *s == "" {
			return "-"
		}
		return *s
	}
	for _, r := range t.rows {
		rec := newDiscoverRecord(r)
		tls := "no"
		if rec.TLS {
			tls = "yes"
		}
		addr := dash(rec.Address)
		if rec.Address == nil {
			addr = dash(rec.Host)
		}
		cols := []string{addr, rec.Classification, dash(rec.Firmware), dash(rec.ProvisioningState), dash(rec.ProvisioningMode),
			tls, dash(rec.SKU), dash(rec.Realm), dash(rec.CertSHA256)}
		if t.inventory {
			host, pw := "-", "-"
			if inv := rec.Inventory; inv != nil {
				host = dash(inv.Hostname)
				if inv.DomainName != nil && host != "-" {
					host += "." + *inv.DomainName
				}
				pw = dash(inv.PowerStateName)
			}
			cols = append(cols, host, pw)
		}
		cols = append(cols, strings.ReplaceAll(dash(rec.Error), "\t", " "))
		fmt.Fprintln(tw, strings.Join(cols, "\t"))
	}
	return tw.Flush()
}
