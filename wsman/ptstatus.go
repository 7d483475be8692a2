package wsman

import "fmt"

// ptStatusNames maps Intel AMT PT_STATUS codes to their names (protocol.md §1.8).
var ptStatusNames = map[int]string{
	0: "SUCCESS", 1: "INTERNAL_ERROR", 2: "NOT_READY", 3: "INVALID_PT_MODE", 4: "INVALID_MESSAGE_LENGTH",
	5: "TABLE_FINGERPRINT_NOT_AVAILABLE", 6: "INTEGRITY_CHECK_FAILED", 7: "UNSUPPORTED_ISVS_VERSION",
	8: "APPLICATION_NOT_REGISTERED", 9: "INVALID_REGISTRATION_DATA", 10: "APPLICATION_DOES_NOT_EXIST",
	11: "NOT_ENOUGH_STORAGE", 12: "INVALID_NAME", 13: "BLOCK_DOES_NOT_EXIST", 14: "INVALID_BYTE_OFFSET",
	15: "INVALID_BYTE_COUNT", 16: "NOT_PERMITTED", 17: "NOT_OWNER", 18: "BLOCK_LOCKED_BY_OTHER",
	19: "BLOCK_NOT_LOCKED", 20: "INVALID_GROUP_PERMISSIONS", 21: "GROUP_DOES_NOT_EXIST",
	22: "INVALID_MEMBER_COUNT", 23: "MAX_LIMIT_REACHED", 24: "INVALID_AUTH_TYPE", 25: "AUTHENTICATION_FAILED",
	26: "INVALID_DHCP_MODE", 27: "INVALID_IP_ADDRESS", 28: "INVALID_DOMAIN_NAME", 29: "UNSUPPORTED_VERSION",
	30: "REQUEST_UNEXPECTED", 31: "INVALID_TABLE_TYPE", 32: "INVALID_PROVISIONING_STATE",
	33: "UNSUPPORTED_OBJECT", 34: "INVALID_TIME", 35: "INVALID_INDEX", 36: "INVALID_PARAMETER",
	37: "INVALID_NETMASK", 38: "FLASH_WRITE_LIMIT_EXCEEDED", 39: "INVALID_IMAGE_LENGTH",
	40: "INVALID_IMAGE_SIGNATURE", 41: "PROPOSE_ANOTHER_VERSION", 42: "INVALID_PID_FORMAT",
	43: "INVALID_PPS_FORMAT", 44: "BIST_COMMAND_BLOCKED", 45: "CONNECTION_FAILED", 46: "CONNECTION_TOO_MANY",
	47: "RNG_GENERATION_IN_PROGRESS", 48: "RNG_NOT_READY", 49: "CERTIFICATE_NOT_READY",
	1024: "DISABLED_BY_POLICY", 2048: "NETWORK_IF_ERROR_BASE", 2049: "UNSUPPORTED_OEM_NUMBER",
	2050: "UNSUPPORTED_BOOT_OPTION", 2051: "INVALID_COMMAND", 2052: "INVALID_SPECIAL_COMMAND",
	2053: "INVALID_HANDLE", 2054: "INVALID_PASSWORD", 2055: "INVALID_REALM", 2056: "STORAGE_ACL_ENTRY_IN_USE",
	2057: "DATA_MISSING", 2058: "DUPLICATE", 2059: "EVENTLOG_FROZEN", 2060: "PKI_MISSING_KEYS",
	2061: "PKI_GENERATING_KEYS", 2062: "INVALID_KEY", 2063: "INVALID_CERT", 2064: "CERT_KEY_NOT_MATCH",
	2065: "MAX_KERB_DOMAIN_REACHED", 2066: "UNSUPPORTED", 2067: "INVALID_PRIORITY", 2068: "NOT_FOUND",
	2069: "INVALID_CREDENTIALS", 2070: "INVALID_PASSPHRASE", 2072: "NO_ASSOCIATION", 2075: "AUDIT_FAIL",
	2076: "BLOCKING_COMPONENT", 2081: "USER_CONSENT_REQUIRED", 2082: "OPERATION_IN_PROGRESS",
}

// dmtfNames maps the DMTF generic method return codes to their names (protocol.md §1.8).
var dmtfNames = map[int]string{
	0: "Completed with No Error", 1: "Not Supported", 2: "Unknown or Unspecified Error",
	3: "Cannot complete within Timeout Period", 4: "Failed", 5: "Invalid Parameter", 6: "In Use",
	4096: "Method Parameters Checked - Job Started", 4097: "Invalid State Transition",
	4098: "Use of Timeout Parameter Not Supported", 4099: "Busy",
}

// PTStatusName returns the name of an Intel AMT PT_STATUS code, such as
// "INVALID_PROVISIONING_STATE" for 32, or "PT_STATUS_<n>" for a code the
// table does not know.
func PTStatusName(code int) string {
	if n, ok := ptStatusNames[code]; ok {
		return n
	}
	return fmt.Sprintf("PT_STATUS_%d", code)
}

// ReturnCodeName describes a method ReturnValue for a class family.
// Intel classes (AMT_*, IPS_*) return PT_STATUS codes; DMTF classes (CIM_*)
// return DMTF codes, with Intel's own codes offset by 32768.
func ReturnCodeName(className string, code int) string {
	if isDMTFClass(className) {
		if code >= 32768 && code <= 65535 {
			return "vendor " + PTStatusName(code-32768)
		}
		if n, ok := dmtfNames[code]; ok {
			return n
		}
		return fmt.Sprintf("DMTF code %d", code)
	}
	return PTStatusName(code)
}

func isDMTFClass(className string) bool {
	return len(className) >= 4 && className[:4] == "CIM_"
}
