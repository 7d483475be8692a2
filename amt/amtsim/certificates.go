package amtsim

// The certificates family: certificates and keys, TLS and 802.1X
// (AMT_PublicKeyCertificate, AMT_PublicKeyManagementService,
// AMT_PublicPrivateKeyPair, AMT_TLSSettingData, ..., IPS_IEEE8021xSettings).
// They are only captured instances served from the instance store: the
// family has no state of its own and no behaviour, so its unit is none.
// Their methods (certificate and key management) are not served: their
// effects have no capture to follow. A behaviour added here gets a unit
// of its own, as the logs have (logs.go).
var certificates = family[none]{unit: noUnit}
