package main

// jsonContract is "amtctl help json".
const jsonContract = `amtctl --output json: one JSON object per line (discover: one per address).

Every key listed is always present; a value that is unknown is null, a list
with nothing in it is []. The same concept has the same key and type in
every command: power_state is the DMTF number with power_state_name its name;
firmware is the full version (11.8.50.3425).

Errors (any command, --output json): on stdout, besides the message on stderr,
  {"host": string|null, "error": {"class": string, "message": string, "exit": number}}
  class and exit:  failure 1, usage 2, unreachable 3, not_detected 4,
  auth_failed 5, tls 6, not_provisioned 7, device_error 8, locked_out 9,
  refused 10, outcome_unknown 11, wait_timed_out 12, interrupted 129/130/143.

Changes (power, boot next/clear, ider boot, and every command that changes a
machine) share one shape, plus the command's own keys named below:
  {"host": string, "action": string, "accepted": bool, "changed": bool|null,
   "message": string, "dry_run": bool, "would_send": [request...]}
  request: {"operation": "Put"|"Invoke"|..., "resource": string,
            "method": string, "arguments": object}
  With --dry-run, accepted and changed are false and would_send lists, in
  order, the requests that would change the machine; nothing was sent.

info:
  host string, firmware string|null, product_version string|null,
  amt_version string|null, build string|null, sku string|null,
  sku_value number|null, sku_features [string], provisioning_state string|null,
  provisioning_mode string|null (null unless provisioned), digest_realm
  string|null, hostname string|null, domain_name string|null, uuid
  string|null, platform_guid string|null, ports [port], credentials
  object|null ({"profile", "origin", "attempts": [{"profile", "origin",
  "outcome", "error"}]}).
  Without credentials only host, firmware and product_version are known.
  port: {"instance_id", "wireless", "mac", "ip_address" (string|null),
         "dhcp", "link_up"}

discover (one object per address):
  address string, host string|null, amt bool, classification string
  (no_amt, not_provisioned, provisioned, auth_failed, error), firmware
  string|null, provisioning_state string|null, provisioning_mode string|null,
  tls bool (the device offers TLS), port number|null, realm string|null,
  sku string|null, rmcp bool, dash bool, product_version string|null,
  cert_sha256 string|null, error string|null, inventory object|null.
  inventory: firmware, build, sku, sku_value, sku_features [string],
  provisioning_state, provisioning_mode, hostname, domain_name, uuid,
  boot [string]|null, redirection {"enabled_state","sol","ider","listener"}|null,
  user_consent string|null, system_defense {"max_policies","max_filters"}|null,
  power_state number|null, power_state_name string|null,
  credential_origin string|null, credential_profile string|null,
  unavailable object (part -> why).

power status:
  host string, power_state number, power_state_name string, os_power_saving
  string, transitioning bool, transitioning_to string|null,
  available_actions [string].
power ACTION: the change shape plus "status" (power status, or null without --wait).

boot next:  the change shape plus "next_boot" string.
boot clear: the change shape.
boot show:
  host string, armed bool (a one-time boot is set for the next boot),
  boot_source string|null, settings object (the AMT_BootSettingData
  properties read, names as the firmware gives them).

version: module string, version string, commit string|null, modified bool,
  go_version string.
config show: file string|null, settings {name: {"value", "source"}}, pins object.
`
