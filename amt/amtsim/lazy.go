package amtsim

// classesByName indexes the class table by class name. It is filled by
// init, after the init functions of the files before this one have
// completed the table (TestClassIndexComplete checks it); a variable
// initialised from classTable would form an initialisation cycle through
// the class definitions that call instancesOf.
var classesByName map[string]*classDef

func init() {
	classesByName = make(map[string]*classDef, len(classTable))
	for _, c := range classTable {
		classesByName[c.name] = c
	}
}

// instanceStore holds a device's instances of the classes served from the
// store, by class name, in enumeration order. It is the state of the
// families whose classes are instances (identity and settings, inventory,
// certificates, the captured parts of the others) and where the power and
// boot units keep the instances they report. Guarded by the device lock:
// the units that use it are called with it held.
type instanceStore struct {
	byClass map[string][]*instance
	// dev is the device whose family units the classes' builders take.
	dev *Device
}

func newInstanceStore(d *Device) instanceStore {
	return instanceStore{byClass: map[string][]*instance{}, dev: d}
}

// of returns the instances of the named class, building them on first
// use: a fleet device holds only the classes it has been asked about, and
// a device nobody talks to holds none. A class the device's firmware does
// not serve has none.
func (s *instanceStore) of(name string) []*instance {
	if insts, ok := s.byClass[name]; ok {
		return insts
	}
	s.byClass[name] = nil // a builder reading its own class sees none
	var insts []*instance
	if c := classesByName[name]; c != nil && c.build != nil && c.served(s.dev.major) {
		insts = c.build(s.dev)
	}
	s.byClass[name] = insts
	return insts
}

// single returns the only instance of a singleton class, or nil.
func (s *instanceStore) single(name string) *instance {
	if insts := s.of(name); len(insts) > 0 {
		return insts[0]
	}
	return nil
}

// replace sets the instances of a class, for a unit that rebuilds them
// when its state changes.
func (s *instanceStore) replace(name string, insts []*instance) { s.byClass[name] = insts }

// instancesOf returns the instances of the named class from the device's
// store. Call with d.mu held.
func (d *Device) instancesOf(name string) []*instance { return d.store.of(name) }
