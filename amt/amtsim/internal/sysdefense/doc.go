// Package sysdefense is the System Defense unit of the simulator: the
// filters (AMT_Hdr8021Filter, AMT_IPHeadersFilter and their
// AMT_NetworkFilter view), policies (AMT_SystemDefensePolicy with
// GetTimeout, SetTimeout and UpdateStatistics), the associations that
// enable a policy on a port or make it a port's default, the active filter
// statistics, both capability classes and CIM_EthernetPort, as protocol.md
// §4 describes them, and a packet evaluator that runs simulated host
// traffic through the active policy of each port.
//
// The unit knows nothing of XML or HTTP: it takes and returns instances,
// endpoint references and faults in its own wire-neutral types (Instance,
// EPR, Field, Fault), and the simulator encodes them with its own envelope
// code. It is written from protocol.md alone, independently of the
// client's System Defense package, so that the client's offline check and
// this evaluator can be tested against each other.
//
// Behaviours that protocol.md leaves open are modelled and each is a
// Config field; the simulator's doc.go lists them with the reasons.
package sysdefense
