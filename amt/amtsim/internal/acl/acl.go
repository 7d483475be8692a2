// Package acl is the ACL family of an amtsim device: the access control
// list AMT_AuthorizationService reports, which is the device's digest
// accounts. The first account is the administrator (GetAdminAclEntry);
// the others are user entries with handles 1, 2, ... in configuration
// order (EnumerateUserAclEntries, GetUserAclEntryEx). It knows nothing of
// WS-Management.
//
// A Table is a view of the accounts; it has no state of its own. The
// simulator builds it from the device's accounts with the device's lock
// held.
package acl

// Entry is one account as the ACL methods report it.
type Entry struct {
	User     string
	ReadOnly bool
}

// Modelled values of a user entry: AccessPermission 2 (local and
// network); Realms 3 (PT administration) for a full account, 13 (general
// info) for a read-only one.
const (
	AccessPermission = 2
	RealmAdmin       = 3
	RealmGeneralInfo = 13
	// MaxHandles is how many handles one EnumerateUserAclEntries answers.
	MaxHandles = 50
)

// Table is the device's accounts, the administrator first.
type Table []Entry

// Admin is the administrator's user name, "" without accounts.
func (t Table) Admin() string {
	if len(t) == 0 {
		return ""
	}
	return t[0].User
}

// Users returns the number of user entries and the handles of at most
// MaxHandles of them from the 1-based handle start.
func (t Table) Users(start int) (total int, handles []int) {
	total = max(len(t)-1, 0)
	for h := max(start, 1); h <= total && len(handles) < MaxHandles; h++ {
		handles = append(handles, h)
	}
	return total, handles
}

// User returns the entry of a handle and its realm; ok is false for an
// unknown handle.
func (t Table) User(handle uint64) (e Entry, realm int, ok bool) {
	if handle < 1 || handle >= uint64(len(t)) {
		return Entry{}, 0, false
	}
	e = t[handle]
	realm = RealmAdmin
	if e.ReadOnly {
		realm = RealmGeneralInfo
	}
	return e, realm, true
}
