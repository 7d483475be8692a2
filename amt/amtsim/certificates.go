package amtsim

import (
	"bytes"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
)

// The certificates family: certificates and keys, TLS and 802.1X
// (AMT_PublicKeyCertificate, AMT_PublicKeyManagementService,
// AMT_PublicPrivateKeyPair, AMT_TLSSettingData, ..., IPS_IEEE8021xSettings).
// The instances are the captured ones, in the device's instance store,
// which is the family's unit. One method changes them:
// AMT_PublicKeyManagementService.AddTrustedRootCertificate, which the
// captures show answered with the new certificate's reference and 0. The
// other certificate and key methods are not served: their effects have
// no capture to follow.
var certificates = family[certUnit]{unit: func(d *Device) certUnit { return certUnit{store: &d.store} }}

// certUnit is the certificates family's state: the instance store.
// Called with the device lock held.
type certUnit struct{ store *instanceStore }

// PT_STATUS codes of AddTrustedRootCertificate (protocol.md's table).
const (
	ptDuplicate   = 2058 // PT_STATUS DUPLICATE
	ptInvalidCert = 2063 // PT_STATUS INVALID_CERT
)

// publicKeyManagement serves AddTrustedRootCertificate: CertificateBlob,
// a DER certificate in base64, becomes a new AMT_PublicKeyCertificate
// with the next free handle (InstanceID "Intel(r) AMT Certificate:
// Handle: N", as captured), TrustedRootCertficate true (the firmware's
// spelling), and Issuer and Subject as the captures write them
// (distinguishedName); the output is CreatedCertificate, the
// reference to it, and ReturnValue 0. No CertificateBlob is 36
// (INVALID_PARAMETER), one that is not a certificate 2063 (INVALID_CERT),
// one the device holds already 2058 (DUPLICATE) [modelled: the codes are
// protocol.md's PT_STATUS names; no capture shows a refusal].
var publicKeyManagement = &unitClass[certUnit]{
	methods: map[string]func(certUnit, *instance, *soap.Node) ([]outParam, *soap.Fault){
		"AddTrustedRootCertificate": func(u certUnit, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			blob := in.Child(capturedURI("AMT_PublicKeyManagementService"), "CertificateBlob")
			if blob == nil {
				return returnValue(ptInvalidParameter), nil
			}
			der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(blob.Value()), ""))
			if err != nil {
				return returnValue(ptInvalidCert), nil
			}
			cert, err := x509.ParseCertificate(der)
			if err != nil {
				return returnValue(ptInvalidCert), nil
			}
			certs := u.store.of("AMT_PublicKeyCertificate")
			next := 0
			for _, c := range certs {
				x509v, _ := c.get("X509Certificate")
				if held, err := base64.StdEncoding.DecodeString(x509v); err == nil && bytes.Equal(held, der) {
					return returnValue(ptDuplicate), nil
				}
				id, _ := c.get("InstanceID")
				if n, err := strconv.Atoi(id[strings.LastIndexByte(id, ' ')+1:]); err == nil && n >= next {
					next = n + 1
				}
			}
			id := fmt.Sprintf("Intel(r) AMT Certificate: Handle: %d", next)
			inst := newInstance().
				set("ElementName", "Intel(r) AMT Certificate").
				set("InstanceID", id).
				set("Issuer", distinguishedName(cert.RawIssuer)).
				set("Subject", distinguishedName(cert.RawSubject)).
				set("TrustedRootCertficate", "true").
				set("X509Certificate", base64.StdEncoding.EncodeToString(der))
			u.store.replace("AMT_PublicKeyCertificate", append(certs[:len(certs):len(certs)], inst))
			ref := &soap.EPR{ResourceURI: capturedURI("AMT_PublicKeyCertificate"),
				Selectors: []soap.EPRSelector{{Name: "InstanceID", Value: id}}}
			return []outParam{{name: "CreatedCertificate", epr: ref}, {name: "ReturnValue", values: []string{"0"}}}, nil
		},
	},
}

// attributeNames are the short names of the attribute types a
// distinguished name is written with; another type is written as its
// dotted OID.
var attributeNames = map[string]string{
	"2.5.4.3": "CN", "2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.10": "O", "2.5.4.11": "OU",
	"2.5.4.5": "SERIALNUMBER", "2.5.4.9": "STREET", "0.9.2342.19200300.100.1.25": "DC",
	"1.2.840.113549.1.9.1": "emailAddress",
}

// distinguishedName writes a DER name as the firmware writes a
// certificate's Issuer and Subject: the last RDN first, "type=value"
// joined by commas (a certificate whose subject is CN, O, C in that order
// reads "C=…,O=…,CN=…", as captured) [modelled: the captured names are of
// one layout; values are written as they are, without RFC 4514 escaping].
func distinguishedName(raw []byte) string {
	var seq pkix.RDNSequence
	if rest, err := asn1.Unmarshal(raw, &seq); err != nil || len(rest) > 0 {
		return ""
	}
	var parts []string
	for i := len(seq) - 1; i >= 0; i-- {
		var rdn []string
		for _, atv := range seq[i] {
			name := attributeNames[atv.Type.String()]
			if name == "" {
				name = atv.Type.String()
			}
			rdn = append(rdn, fmt.Sprintf("%s=%v", name, atv.Value))
		}
		parts = append(parts, strings.Join(rdn, "+"))
	}
	return strings.Join(parts, ",")
}
