package amtsim

// Remote access (Client Initiated Remote Access) classes that take more
// than Get and Enumerate, in the identity and settings family
// (identity.go), served as the captures show:
//
//   - AMT_UserInitiatedConnectionService.RequestStateChange sets
//     EnabledState to RequestedState, 32768 (no interface) to 32771 (BIOS
//     and OS), and returns 0 (the amtc and go-wsman captures); another or
//     no RequestedState returns 5, Invalid Parameter, the DMTF code
//     AMT_RedirectionService returns for the same range (protocol.md)
//     [modelled: no capture of a refusal].
//   - Delete of AMT_RemoteAccessPolicyRule addressed by PolicyRuleName
//     (the selector the recorded Delete names; the rule's other keys, as
//     the AMT_RemoteAccessPolicyAppliesToMPS capture's PolicySet lists
//     them, may be given too and must match) removes the rule and answers
//     the empty DeleteResponse the captures show; the policy's
//     AMT_RemoteAccessPolicyAppliesToMPS links to it go with it
//     [modelled: no capture enumerates the links after a Delete]. A rule
//     the device does not hold is w:InvalidSelectors, as for any Get of an
//     instance it does not hold.
//   - Put of AMT_RemoteAccessPolicyAppliesToMPS, without selectors as
//     the recorded Put sends it, echoes the link's ManagedElement and
//     PolicySet references and sets MpsType (0 outside, 1 inside the
//     enterprise, 2 both) and OrderOfAccess; the PutResponse is the link
//     (the go-wsman capture). A reference that names another server or
//     rule is wxf:InvalidRepresentation, as any changed read-only value;
//     an MpsType outside 0..2 is wsman:SchemaValidationError [modelled].

import (
	"slices"
	"strconv"

	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"
)

var userInitiatedConnection = &unitClass[identityUnit]{
	methods: map[string]func(identityUnit, *instance, *soap.Node) ([]outParam, *soap.Fault){
		"RequestStateChange": func(_ identityUnit, inst *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			st, ok := uintParam(in, capturedURI("AMT_UserInitiatedConnectionService"), "RequestedState")
			if !ok || st < 32768 || st > 32771 {
				return returnValue(rvInvalidParameter), nil
			}
			inst.set("EnabledState", strconv.Itoa(st))
			return returnValue(rvOK), nil
		},
	},
}

// policyRuleKeys are the keys of an AMT_RemoteAccessPolicyRule, as the
// PolicySet reference of the AMT_RemoteAccessPolicyAppliesToMPS capture
// names them.
var policyRuleKeys = []string{"CreationClassName", "PolicyRuleName", "SystemCreationClassName", "SystemName"}

var remoteAccessPolicyRule = &unitClass[identityUnit]{
	delete: func(u identityUnit, sels []soap.Selector) *soap.Fault {
		named := false
		for i, s := range sels {
			if !slices.Contains(policyRuleKeys, s.Name) || s.EPR != nil ||
				slices.ContainsFunc(sels[:i], func(o soap.Selector) bool { return o.Name == s.Name }) {
				return soap.FaultInvalidSelectors()
			}
			named = named || s.Name == "PolicyRuleName"
		}
		if !named {
			return soap.FaultInvalidSelectors()
		}
		rules := u.store.of("AMT_RemoteAccessPolicyRule")
		at := slices.IndexFunc(rules, func(in *instance) bool { return selectorsMatch(in, sels) })
		if at < 0 {
			return soap.FaultInvalidSelectors()
		}
		name, _ := rules[at].get("PolicyRuleName")
		u.store.replace("AMT_RemoteAccessPolicyRule", slices.Delete(slices.Clone(rules), at, at+1))
		links := u.store.of("AMT_RemoteAccessPolicyAppliesToMPS")
		u.store.replace("AMT_RemoteAccessPolicyAppliesToMPS", slices.DeleteFunc(slices.Clone(links), func(in *instance) bool {
			p, ok := in.props["PolicySet"]
			return ok && p.epr != nil && slices.ContainsFunc(p.epr.selectors, func(a attr) bool {
				return a.name == "PolicyRuleName" && a.value == name
			})
		}))
		return nil
	},
}

var remoteAccessPolicyAppliesToMPS = &unitClass[identityUnit]{
	put: func(_ identityUnit, inst *instance, body *soap.Node) *soap.Fault {
		uri := capturedURI("AMT_RemoteAccessPolicyAppliesToMPS")
		if !body.Is(uri, "AMT_RemoteAccessPolicyAppliesToMPS") {
			return soap.FaultSchemaValidation()
		}
		set := map[string]string{}
		seen := map[string]bool{}
		for _, ch := range body.Children {
			if ch.Space != uri || seen[ch.Local] {
				return soap.FaultSchemaValidation()
			}
			seen[ch.Local] = true
			switch ch.Local {
			case "MpsType":
				if v, err := strconv.ParseUint(ch.Value(), 10, 16); err != nil || v > 2 {
					return soap.FaultSchemaValidation()
				}
				set[ch.Local] = ch.Value()
			case "OrderOfAccess":
				if _, err := strconv.ParseUint(ch.Value(), 10, 16); err != nil {
					return soap.FaultSchemaValidation()
				}
				set[ch.Local] = ch.Value()
			default:
				cur, ok := inst.props[ch.Local]
				switch {
				case !ok:
					return soap.FaultInvalidRepresentation()
				case cur.epr != nil:
					if !eprMatches(cur.epr, ch) {
						return soap.FaultInvalidRepresentation()
					}
				case len(cur.values) != 1 || cur.values[0] != ch.Value():
					return soap.FaultInvalidRepresentation()
				}
			}
		}
		for name, v := range set {
			inst.set(name, v)
		}
		return nil
	},
}
