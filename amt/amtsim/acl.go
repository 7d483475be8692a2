package amtsim

import (
	"github.com/amtkit/amtkit/amt/amtsim/internal/acl"
	"github.com/amtkit/amtkit/amt/amtsim/internal/soap"

	"strconv"
)

// The ACL family: AMT_AuthorizationService reports the device's digest
// accounts as its access control list (internal/acl).

// aclUnit is the device's ACL family. Its state is the device's accounts,
// which authentication owns: the family makes the unit of them when it is
// called, with the device lock held.
type aclUnit struct {
	accounts []Account
}

var acls = family[aclUnit]{unit: func(d *Device) aclUnit { return aclUnit{accounts: d.accounts} }}

// table is the accounts as internal/acl reports them.
func (u aclUnit) table() acl.Table {
	t := make(acl.Table, 0, len(u.accounts))
	for _, a := range u.accounts {
		t = append(t, acl.Entry{User: a.User, ReadOnly: a.ReadOnly})
	}
	return t
}

// ptInvalidHandle is PT_STATUS INVALID_HANDLE (protocol.md §1.8): an
// unknown ACL handle [modelled].
const ptInvalidHandle = 2053

var authorizationService = &unitClass[aclUnit]{
	methods: map[string]func(aclUnit, *instance, *soap.Node) ([]outParam, *soap.Fault){
		"GetAdminAclEntry": func(u aclUnit, _ *instance, _ *soap.Node) ([]outParam, *soap.Fault) {
			return []outParam{{name: "Username", values: []string{u.table().Admin()}}, {name: "ReturnValue", values: []string{"0"}}}, nil
		},
		"EnumerateUserAclEntries": func(u aclUnit, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			start := uint64(1)
			if v, ok := u32Param(in, capturedURI("AMT_AuthorizationService"), "StartIndex"); ok {
				start = v
			}
			total, handles := u.table().Users(int(start))
			out := []outParam{
				{name: "TotalCount", values: []string{strconv.Itoa(total)}},
				{name: "HandlesCount", values: []string{strconv.Itoa(len(handles))}},
			}
			if len(handles) > 0 {
				out = append(out, outParam{name: "Handles", values: itoas(handles)})
			}
			return append(out, outParam{name: "ReturnValue", values: []string{"0"}}), nil
		},
		"GetUserAclEntryEx": func(u aclUnit, _ *instance, in *soap.Node) ([]outParam, *soap.Fault) {
			h, ok := u32Param(in, capturedURI("AMT_AuthorizationService"), "Handle")
			if !ok {
				return returnValue(ptInvalidHandle), nil
			}
			e, realm, ok := u.table().User(h)
			if !ok {
				return returnValue(ptInvalidHandle), nil
			}
			return []outParam{
				{name: "DigestUsername", values: []string{e.User}},
				{name: "AccessPermission", values: []string{strconv.Itoa(acl.AccessPermission)}},
				{name: "Realms", values: []string{strconv.Itoa(realm)}},
				{name: "ReturnValue", values: []string{"0"}},
			}, nil
		},
		// Read-only status methods answer as captured.
		"GetAclEnabledState": func(aclUnit, *instance, *soap.Node) ([]outParam, *soap.Fault) {
			return []outParam{{name: "Enabled", values: []string{"true"}}, {name: "ReturnValue", values: []string{"0"}}}, nil
		},
		"GetAdminAclEntryStatus": func(aclUnit, *instance, *soap.Node) ([]outParam, *soap.Fault) {
			return []outParam{{name: "IsDefault", values: []string{"false"}}, {name: "ReturnValue", values: []string{"0"}}}, nil
		},
		"GetAdminNetAclEntryStatus": func(aclUnit, *instance, *soap.Node) ([]outParam, *soap.Fault) {
			return []outParam{{name: "IsDefault", values: []string{"false"}}, {name: "ReturnValue", values: []string{"0"}}}, nil
		},
	},
}
