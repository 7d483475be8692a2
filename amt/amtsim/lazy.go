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

// instancesOf returns the instances of the named class, building them on
// first use: a fleet device holds only the classes it has been asked
// about, and a device nobody talks to holds none. A class the device's
// firmware does not serve has none. Call with d.mu held.
func (d *Device) instancesOf(name string) []*instance {
	if insts, ok := d.instances[name]; ok {
		return insts
	}
	d.instances[name] = nil // a builder reading its own class sees none
	var insts []*instance
	if c := classesByName[name]; c != nil && c.build != nil && c.served(d.major) {
		insts = c.build(d)
	}
	d.instances[name] = insts
	return insts
}
