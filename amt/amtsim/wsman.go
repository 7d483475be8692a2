package amtsim

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// execute runs an authenticated WS-Management request (other than
// Identify) against the device state and returns the HTTP status and body.
func (d *Device) execute(req *request, acct Account) (int, []byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	d.settlePower(now)
	d.settleOptInLocked(now)
	d.stats.Actions[req.action]++
	relatesTo := req.messageID
	if relatesTo == "" {
		relatesTo = "0"
	}
	body, f := d.dispatch(req, acct, relatesTo)
	if f != nil {
		return http.StatusBadRequest, faultEnvelope(relatesTo, d.nextMessageID(), f)
	}
	return http.StatusOK, body
}

func (d *Device) dispatch(req *request, acct Account, relatesTo string) ([]byte, *wsFault) {
	if req.action == "" || req.messageID == "" {
		// DSP0226: wsa:Action and wsa:MessageID are required headers.
		return nil, faultHeaderRequired()
	}
	if dc, ok := defenseClasses[req.resourceURI]; ok && classByURI[req.resourceURI] == nil {
		return d.dispatchDefense(dc, req, acct, relatesTo)
	}
	c := classByURI[req.resourceURI]
	if c == nil || !c.served(d.major) {
		return nil, faultDestinationUnreachable()
	}
	ic := c.instanceClass()
	if c.live != nil {
		c.live(d)
	}
	respond := func(action string, bodyNS []string, body func(w *xmlWriter, pfx []string)) []byte {
		return responseEnvelope(relatesTo, d.nextMessageID(), action, req.resourceURI, bodyNS, body)
	}
	instanceNS := []string{ic.uri}
	if c.commonNS {
		instanceNS = append(instanceNS, nsCommon)
	}
	// nsOf gives the namespaces of an instance of a subclass of ic.
	nsOf := func(inst *instance) []string {
		if inst == nil || inst.uri == "" {
			return instanceNS
		}
		return append([]string{inst.uri}, instanceNS[1:]...)
	}

	switch req.action {
	case actGet:
		inst, f := d.resolve(c, req.selectors)
		if f != nil {
			return nil, f
		}
		return respond(actGet+"Response", nsOf(inst), func(w *xmlWriter, pfx []string) {
			writeInstance(w, ic.name, pfx[0], inst)
		}), nil

	case actPut:
		if !c.supportsPut() {
			return nil, faultActionNotSupported()
		}
		if acct.ReadOnly {
			return nil, faultAccessDenied()
		}
		inst, f := d.resolve(c, req.selectors)
		if f != nil {
			return nil, f
		}
		put := c.put
		if put == nil {
			put = func(_ *Device, inst *instance, body *node) *wsFault { return applyPut(c, inst, body) }
		}
		if f := put(d, inst, req.body); f != nil {
			return nil, f
		}
		return respond(actPut+"Response", instanceNS, func(w *xmlWriter, pfx []string) {
			writeInstance(w, ic.name, pfx[0], inst)
		}), nil

	case actCreate, actDelete:
		// No served class supports Create or Delete yet.
		return nil, faultActionNotSupported()

	case actEnumerate:
		mode, f := enumerationMode(req.body)
		if f != nil {
			return nil, f
		}
		id := d.openEnumeration(c)
		d.enums[id].mode = mode
		return respond(actEnumerate+"Response", []string{nsEnum}, func(w *xmlWriter, pfx []string) {
			g := pfx[0]
			w.start(g + ":EnumerateResponse")
			w.elem(g+":EnumerationContext", id)
			w.end(g + ":EnumerateResponse")
		}), nil

	case actPull:
		if !req.body.is(nsEnum, "Pull") {
			return nil, faultSchemaValidation()
		}
		id, maxElements, err := pullParams(req.body)
		if err != nil {
			return nil, faultSchemaValidation()
		}
		e := d.lookupEnumeration(id, c)
		if e == nil {
			return nil, faultInvalidEnumerationContext()
		}
		n := min(maxElements, len(e.items))
		// A page holds instances of one class: the firmware ends a page
		// where an enumeration of a parent class moves on to a subclass.
		for i := 1; i < n; i++ {
			if e.items[i].class != e.items[0].class {
				n = i
				break
			}
		}
		page := e.items[:n]
		e.items = e.items[n:]
		done := len(e.items) == 0
		if done {
			delete(d.enums, id)
		}
		// An empty page declares no instance namespace, as captured; nor
		// does a page of EPRs alone.
		ns := []string{nsEnum}
		if len(page) > 0 && e.mode != modeEPR {
			ns = append(ns, nsOf(page[0])...)
		}
		return respond(actPull+"Response", ns, func(w *xmlWriter, pfx []string) {
			g, h := pfx[0], ""
			if len(pfx) > 1 {
				h = pfx[1]
			}
			w.start(g + ":PullResponse")
			if !done || (c.contextAtEnd != nil && c.contextAtEnd(d.major)) {
				w.elem(g+":EnumerationContext", id)
			}
			w.start(g + ":Items")
			for _, inst := range page {
				switch e.mode {
				case modeEPR:
					writeInstanceEPR(w, ic, inst)
				case modeObjectAndEPR:
					w.start("c:Item")
					writeInstance(w, ic.name, h, inst)
					writeInstanceEPR(w, ic, inst)
					w.end("c:Item")
				default:
					writeInstance(w, ic.name, h, inst)
				}
			}
			w.end(g + ":Items")
			if done {
				w.elem(g+":EndOfSequence", "")
			}
			w.end(g + ":PullResponse")
		}), nil

	case actRelease:
		if !req.body.is(nsEnum, "Release") {
			return nil, faultSchemaValidation()
		}
		id := req.body.child(nsEnum, "EnumerationContext").value()
		if d.lookupEnumeration(id, c) == nil {
			return nil, faultInvalidEnumerationContext()
		}
		delete(d.enums, id)
		return respond(actRelease+"Response", nil, nil), nil
	}

	// Extrinsic method: <ResourceURI>/<Method>.
	method, ok := strings.CutPrefix(req.action, c.uri+"/")
	if !ok || method == "" || strings.Contains(method, "/") {
		return nil, faultActionNotSupported()
	}
	fn := c.methods[method]
	if fn == nil {
		return nil, faultActionNotSupported()
	}
	if acct.ReadOnly {
		return nil, faultAccessDenied()
	}
	inst, f := d.resolve(c, req.selectors)
	if f != nil {
		return nil, f
	}
	input := req.body
	if input != nil && !input.is(c.uri, method+"_INPUT") {
		return nil, faultSchemaValidation()
	}
	out, f := fn(d, inst, input)
	if f != nil {
		return nil, f
	}
	return respond(req.action+"Response", []string{c.uri}, func(w *xmlWriter, pfx []string) {
		el := pfx[0] + ":" + method + "_OUTPUT"
		w.start(el)
		for _, p := range out {
			for _, v := range p.values {
				w.elem(pfx[0]+":"+p.name, v)
			}
		}
		w.end(el)
	}), nil
}

// resolve finds the instance addressed by the selectors. Singletons may be
// addressed without selectors; otherwise every key must be given and match.
func (d *Device) resolve(c *classDef, sels []selector) (*instance, *wsFault) {
	insts := d.instances[c.name]
	if len(sels) == 0 {
		if c.singleton && len(insts) == 1 {
			return insts[0], nil
		}
		return nil, faultInvalidSelectors()
	}
	given := map[string]bool{}
	for _, s := range sels {
		if !slices.Contains(c.keys, s.name) || given[s.name] {
			return nil, faultInvalidSelectors()
		}
		given[s.name] = true
	}
	if !c.singleton && len(given) != len(c.keys) {
		return nil, faultInvalidSelectors()
	}
	for _, inst := range insts {
		if selectorsMatch(inst, sels) {
			return inst, nil
		}
	}
	return nil, faultInvalidSelectors()
}

func selectorsMatch(inst *instance, sels []selector) bool {
	for _, s := range sels {
		p, ok := inst.props[s.name]
		if !ok {
			return false
		}
		if p.epr != nil {
			if s.epr == nil || !eprMatches(p.epr, s.epr) {
				return false
			}
			continue
		}
		if s.epr != nil || len(p.values) != 1 || p.values[0] != s.value {
			return false
		}
	}
	return true
}

// eprMatches compares a selector's EndpointReference with a stored one by
// resource URI and selector values (the address is ignored, like AMT).
func eprMatches(want *eprValue, got *node) bool {
	rp := got.child(nsAddr, "ReferenceParameters")
	if rp.child(nsWSMan, "ResourceURI").value() != want.resourceURI {
		return false
	}
	ss := rp.child(nsWSMan, "SelectorSet")
	if ss == nil {
		return false
	}
	n := 0
	for _, s := range ss.children {
		if !s.is(nsWSMan, "Selector") {
			continue
		}
		name, _ := s.attr("Name")
		if !slices.Contains(want.selectors, attr{name, s.value()}) {
			return false
		}
		n++
	}
	return n == len(want.selectors)
}

// applyPut updates the writable properties present in body. Read-only
// properties may be echoed unchanged; changing one is refused. Nothing is
// changed unless the whole body is acceptable.
func applyPut(c *classDef, inst *instance, body *node) *wsFault {
	if !body.is(c.uri, c.name) {
		return faultSchemaValidation()
	}
	var order []string
	values := map[string][]string{}
	for _, ch := range body.children {
		if ch.space != c.uri {
			return faultSchemaValidation()
		}
		if _, seen := values[ch.local]; !seen {
			order = append(order, ch.local)
		}
		values[ch.local] = append(values[ch.local], ch.value())
	}
	for _, name := range order {
		vals := values[name]
		if t, ok := c.writable[name]; ok {
			for _, v := range vals {
				if !t.valid(v) {
					return faultSchemaValidation()
				}
			}
			continue
		}
		cur, ok := inst.props[name]
		if !ok || cur.epr != nil || !slices.Equal(cur.values, vals) {
			return faultInvalidRepresentation()
		}
	}
	for _, name := range order {
		if _, ok := c.writable[name]; ok {
			inst.set(name, values[name]...)
		}
	}
	return nil
}

// openEnumeration snapshots the class's instances under a new context,
// dropping expired contexts and, beyond the bound, the least recently used.
// Call with d.mu held.
func (d *Device) openEnumeration(c *classDef) string {
	now := d.pruneEnumerations()
	items := make([]*instance, 0, len(d.instances[c.name]))
	for _, inst := range d.instances[c.name] {
		items = append(items, inst.clone())
	}
	id := d.nextEnumerationID()
	d.enums[id] = &enumeration{class: c, items: items, lastUsed: now}
	return id
}

// pruneEnumerations drops expired contexts and, beyond the bound, the
// least recently used, and returns the time it used. Call with d.mu held.
func (d *Device) pruneEnumerations() time.Time {
	now := time.Now()
	timeout := d.srv.opts.EnumerationTimeout
	for id, e := range d.enums {
		if now.Sub(e.lastUsed) > timeout {
			delete(d.enums, id)
		}
	}
	for len(d.enums) >= d.srv.opts.MaxEnumerations {
		var oldest string
		var oldestT time.Time
		for id, e := range d.enums {
			if oldest == "" || e.lastUsed.Before(oldestT) {
				oldest, oldestT = id, e.lastUsed
			}
		}
		delete(d.enums, oldest)
	}
	return now
}

// lookupEnumeration returns a live context of class c, or nil. Call with
// d.mu held.
func (d *Device) lookupEnumeration(id string, c *classDef) *enumeration {
	e := d.enums[id]
	if e == nil {
		return nil
	}
	now := time.Now()
	if now.Sub(e.lastUsed) > d.srv.opts.EnumerationTimeout {
		delete(d.enums, id)
		return nil
	}
	if e.class != c {
		return nil
	}
	e.lastUsed = now
	return e
}

// Enumeration modes (DSP0226 8.7, wsman:EnumerationMode).
const (
	modeObject       = iota // the instances (no EnumerationMode)
	modeEPR                 // EnumerateEPR: an EndpointReference per instance
	modeObjectAndEPR        // EnumerateObjectAndEPR: w:Item with both
)

// enumerationMode reads wsman:EnumerationMode of an Enumerate body. An
// unknown mode is refused with wsman:UnsupportedFeature [modelled: DSP0226
// names the fault; no capture shows it].
func enumerationMode(body *node) (int, *wsFault) {
	m := body.child(nsWSMan, "EnumerationMode")
	if m == nil {
		return modeObject, nil
	}
	switch m.value() {
	case "EnumerateEPR":
		return modeEPR, nil
	case "EnumerateObjectAndEPR":
		return modeObjectAndEPR, nil
	}
	return 0, faultUnsupportedFeature()
}

// writeInstanceEPR writes the EndpointReference of an instance, as the
// firmware does in the EPR enumeration modes: its class's resource URI and
// a selector per key property, in key order; a reference-valued key holds
// a nested EndpointReference.
func writeInstanceEPR(w *xmlWriter, ic *classDef, inst *instance) {
	uri, keys := ic.uri, ic.keys
	if inst.uri != "" {
		uri = inst.uri
		if sc := classByURI[inst.uri]; sc != nil {
			keys = sc.instanceClass().keys
		}
	}
	w.start("b:EndpointReference")
	w.elem("b:Address", uriAnon)
	w.start("b:ReferenceParameters")
	w.elem("c:ResourceURI", uri)
	w.start("c:SelectorSet")
	for _, k := range keys {
		p, ok := inst.props[k]
		switch {
		case !ok:
		case p.epr != nil:
			w.start("c:Selector", attr{"Name", k})
			w.start("b:EndpointReference")
			writeEPR(w, p.epr)
			w.end("b:EndpointReference")
			w.end("c:Selector")
		case len(p.values) == 1:
			w.elem("c:Selector", p.values[0], attr{"Name", k})
		}
	}
	w.end("c:SelectorSet")
	w.end("b:ReferenceParameters")
	w.end("b:EndpointReference")
}
