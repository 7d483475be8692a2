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
  refused 10, outcome_unknown 11, wait_timed_out 12, incomplete 13 (a job's
  machine did not succeed), paused 14 (a job waits after its canary),
  interrupted 129/130/143.

Changes (power, boot next/clear, ider boot/restore, redirect enable/disable,
time --set, defense, and every command that changes a machine) share one
shape, plus the command's own keys named below (present in a dry run too,
with their values as they are now):
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
  object|null ({"profile" string|null, "origin", "fallback" (bool: a
  candidate after the first in the order logged in), "attempts": [{"profile",
  "origin", "outcome", "error"}]}).
  origin (here and wherever credentials are reported): "task" (the
  credential this command was given: --user/--password, --password-stdin or
  AMT_PASSWORD), "profile" (--profile), "default" (the default profile),
  "runtime" (the runtime entry that last worked on the host) or "other".
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
power ACTION: the change shape plus "status" (power status, or null without --wait),
  "sent" bool (false when nothing needed sending, e.g. already on) and "credentials" object|null ({"origin", "profile" string|null, "fallback" bool}; null
  when no credential was chosen from the store).

boot next:  the change shape plus "next_boot" string and "start_action"
  string|null (the power action sent with --reset).
defense quarantine|ping-only|apply: the change shape plus "policy" (name,
  precedence, anti_spoofing, tx_default, rx_default, tx_default_count,
  rx_default_count, filters [filter]), "policy_id" string|null (null in a dry
  run), "filter_ids" [string], "interfaces" [string], "replaced" [string],
  "unbound" [string], "report" {"ok", "flows": [{"flow", "passes", "reason"
  string|null, "legs": [{"direction", "packets", "verdict", "by", "certain"}]}]},
  "round_trips" number, "writes" number.
defense check: {"policy", "report", "ok"}; exit 10 when a flow is dropped.
defense status:
  host string, mode string ("ACM", "CCM", "unknown"), interfaces [{"interface"
  ("wired"|"wireless"), "active_policy" {"id","name","precedence","amtkit"}|null,
  "enabled_policies" [policy], "timeout_remaining_s" number|null,
  "anti_spoofing" bool|null, "filters" [filter]}].
  filter: {"id" string|null, "name", "type" ("ip"|"ethernet"), "direction"
  ("tx"|"rx"), "action" ("pass"|"drop"|"rate-limit"), "rate_pps" number|null,
  "statistics" bool, "ip_version", "src", "dst", "protocol", "src_ports",
  "dst_ports", "dscp" [number], "flow_label", "ether_type", "src_mac",
  "dst_mac", "priority", "vlan" (null when not matched), "matched_packets"
  number|null}.
defense stats: host, reset bool, interfaces [{"interface", "active_policy",
  "filters": [{"id","name","direction","action","matched_packets"}],
  "tx_default_matched_packets" number|null, "rx_default_matched_packets"
  number|null}].
defense stats --reset --dry-run: the change shape (action "reset
  statistics").
defense caps: host, mode, system_defense_available bool, max_policies,
  max_filters, interfaces [{"interface", "ipv4_max_tx_filters",
  "ipv4_max_tx_counters", "ipv4_max_rx_filters", "ipv4_max_rx_counters",
  "ipv4_anti_spoofing", the same for ipv6, "ipv6_to_ipv4_ratio"}].
defense remove: the change shape plus "policies" [string], "filter_ids"
  [string], "bindings" number, "round_trips" number.
boot clear: the change shape.
boot show:
  host string, armed bool (a one-time boot is set for the next boot),
  boot_source string|null, settings object (the AMT_BootSettingData
  properties read, names as the firmware gives them).

ider boot, ider serve: the change shape ("action" "ider boot" or "ider
  serve"; accepted: the power request that starts the boot was accepted, or
  for serve the image was served; changed null for a boot, false for serve)
  plus device string|null ("ider-cd", "ider-floppy"), start_action
  string|null (the power action sent, as in boot next), action_outcome_unknown
  bool, bytes_served number, commands number, resets number, seconds number,
  rate_mib_s number, stop string|null, restored [string], restore_errors
  [string], error string|null.

ider restore: the change shape plus "restored" [string] (what was put back:
  "boot options", "redirection listener", "redirection features"; [] in a dry
  run or when nothing was recorded).

redirect status: host string, ider bool|null, sol bool|null, listener
  bool|null, enabled_state number|null (AMT_RedirectionService.EnabledState).
redirect enable|disable: the change shape plus ider, sol, listener and
  enabled_state as in redirect status: the state afterwards (in a dry run,
  as it is).

hw: host string, chassis object|null, baseboard object|null, bios
  object|null, processors [object], memory [object], storage [object],
  batteries [object].
log events: host string, events [object]. log audit: host string,
  records [object].
time: host string, device_time string, console_time string, offset_seconds
  number. time --set: the change shape plus those and offset_after_seconds
  number|null.

creds profile list, creds runtime list, creds guard list: one JSON array
  ([] when empty) of {"name","default","users"}, {"host","profile","origin",
  "user","learned_at","stale"} and {"host","failures","pending",
  "max_failures","spent","last","frees_at","clear_at"}.

job run --output json: one object per machine as it finishes, then the summary
  {"job", "action", "state", "total", "done", "counts"} (counts: every outcome,
  0 when none), then, when the exit status is not 0, the error object.
  machine (also each element of job report's array):
  {"job" number, "host" string, "action" string, "state" ("pending"|"running"|
   "done"), "outcome" string|null (null until done), "return_code" number|null,
   "return_code_name" string|null, "attempts" number, "retries_remaining"
   number, "last_attempt" string|null (RFC 3339), "worker" string|null,
   "message" string, "data" object|null}
  outcome: succeeded, unreachable, not_detected, auth_failed, locked_out,
  not_provisioned, tls, device_error, refused, outcome_unknown, expired,
  cancelled. data is the task's reading: power-status has the keys of power
  status without host (power_state number, power_state_name string, ...);
  changes have "sent" bool, "power_action" string|null, "before" object|null;
  inventory the keys of info; hardware the object of hw and defense-status
  the object of defense status (host included); null when the task reads
  nothing or failed.
  exit: 0 every machine succeeded, 13 incomplete (some did not), 14 paused
  (the canary succeeded; amtctl job continue ID).
job run --detach and job list's elements (job list: one array):
  {"job" number, "action", "state" ("scheduled"|"running"|"paused"|"cancelled"|
   "finished"), "actor", "profile" string|null (null: the default profile),
   "created_at", "start_at", "expire_at" string|null, "continued_at"
   string|null, "finished_at" string|null, "total", "done", "counts",
   "connection" {"tls" bool, "ca_certificates" [{"subject", "sha256"}],
   "pinned_sha256" [string], "legacy_tls" bool, "insecure_skip_verify" bool,
   "redirect_port" number|null}} (connection: how the workers connect, as
   job run's --tls, --ca, --pin, --legacy-tls, --insecure-skip-verify and
   --redirect-port set it; the CA certificates are named, never a secret).
job run --dry-run: {"job": null, "action", "dry_run": true, "targets"
  [string], "collections" [string], "total", "canary", "batch_size",
  "batch_interval" string, "batches", "would_send" [request]}.
job status: the job object plus "machines" {"pending","running","done"},
  "running" [{"host", "worker", "since"}] (each machine a worker is working
  now), "holders" [{"worker", "since", "hosts" [string]}] (running by worker),
  "last_cleanup" string|null.
job report: one array of machine objects (csv: the same columns without data).
job cancel|continue|retry: {"job", "action", "state" (now), "machines"
  (cancelled, to go, retried), "message"}.
job purge: {"jobs", "machines", "older_than_s"}.
collection list: one array of {"name", "count", "created_at", "updated_at"};
  collection show: the same plus "targets" [string].
collection create|add|remove|delete: {"name", "action", "machines" (added or
  removed), "count" (in it now), "message"}.
log activity: one object per entry (no line when none matches): id number,
  time string, actor string, host string|null, operation string, params
  object, technology string|null, profile string|null, outcome string,
  return_code number|null, return_code_name string|null, auth_step
  string|null, job number|null (the amtctl job, as job run and report print it),
  job_label string|null (a job label an SDK program gave, not an amtctl job),
  duration_seconds number, message string|null.
log activity --stats: count number, oldest string|null, newest string|null,
  last_purge string|null, retention_days number.
log purge: deleted number, before string.

version: module string, version string, commit string|null, modified bool,
  go_version string.
config show: file string|null, settings {name: {"value", "source"}}, pins object.
`
