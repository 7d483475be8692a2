#!/usr/bin/env python3
"""Writes captured_data.go: the instances of the classes amtsim serves as the
firmware captures show them, one shape per firmware generation.

Run from amt/amtsim with the recordings beside the repository:
    python3 gen_captured.py ../../../shared/recordings > captured_data.go
The output is checked in; amtsim never reads the recordings at run time.
"""
import json
import os
import sys
import xml.etree.ElementTree as ET

NS_ENUM = "http://schemas.xmlsoap.org/ws/2004/09/enumeration"
NS_ADDR = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
NS_WSMAN = "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd"
NS_COMMON = "http://schemas.dmtf.org/wbem/wscim/1/common"
NS_SOAP = "http://www.w3.org/2003/05/soap-envelope"

# CIM_WiFiEndpoint is left out: its only captures lack the d, e and f
# declarations every other firmware envelope carries.
# Topics served here, in the order of the class families. Classes the
# simulator models elsewhere (power, boot, redirection, identity) and
# System Defense are not listed.
FAMILIES = [
    ("hardware inventory", ["CIM_Chassis", "CIM_Card", "CIM_BIOSElement", "CIM_BIOSFeature", "CIM_Processor",
                            "CIM_Chip", "CIM_PhysicalMemory", "CIM_MediaAccessDevice", "CIM_PhysicalPackage",
                            "CIM_SystemPackaging", "CIM_Battery", "CIM_Fan", "CIM_Sensor", "AMT_AssetTableService"]),
    ("logs", ["AMT_MessageLog", "AMT_AuditLog", "AMT_AuditPolicyRule", "AMT_EventLogEntry",
              "IPS_ProvisioningRecordLog"]),
    ("time", ["AMT_TimeSynchronizationService"]),
    ("ACLs", ["AMT_AuthorizationService"]),
    ("certificates and TLS", ["AMT_PublicKeyCertificate", "AMT_PublicKeyManagementService", "AMT_PublicPrivateKeyPair",
                              "AMT_TLSSettingData", "AMT_TLSCredentialContext", "AMT_TLSProtocolEndpointCollection",
                              "AMT_CryptographicCapabilities", "CIM_CredentialContext", "CIM_ConcreteDependency"]),
    ("802.1X", ["AMT_8021XProfile", "AMT_8021xCredentialContext", "IPS_IEEE8021xSettings", "CIM_IEEE8021xSettings"]),
    ("KVM", ["CIM_KVMRedirectionSAP", "IPS_KVMRedirectionSettingData", "IPS_ScreenSettingData",
             "CIM_RedirectionService"]),
    ("IPv6 and host IP", ["IPS_IPv6PortSettings", "IPS_HostIPSettings"]),
    ("alarm clock", ["AMT_AlarmClockService", "IPS_AlarmClockOccurrence"]),
    ("environment detection", ["AMT_EnvironmentDetectionSettingData"]),
    ("ethernet port", ["CIM_EthernetPort", "IPS_LANEndpoint", "CIM_WiFiPort",
                       "CIM_WiFiEndpointSettings", "AMT_WiFiPortConfigurationService"]),
    ("remote access", ["AMT_RemoteAccessService", "AMT_RemoteAccessPolicyRule", "AMT_RemoteAccessPolicyAppliesToMPS",
                       "AMT_RemoteAccessCapabilities", "AMT_ManagementPresenceRemoteSAP", "AMT_MPSUsernamePassword",
                       "AMT_UserInitiatedConnectionService"]),
    ("other services", ["AMT_KerberosSettingData", "AMT_SystemPowerScheme", "IPS_HostBootReason", "IPS_SecIOService",
                        "IPS_HostBasedSetupService", "AMT_WebUIService"]),
    ("profiles", ["CIM_ElementConformsToProfile"]),
]

# Captures taken from a device of an older generation than the rest: the
# 2021 mps parser tests hold one AMT 8.1 device (its CIM_SoftwareIdentity
# reports 8.1.71; the MessageID counters of both files run on from one
# another). Its shapes serve firmware before AMT 12, the rest from 12.
OLD_DEVICE_PATHS = ("src/test/amt_xmlparser.spec.ts", "src/test/cim_xmlparser.spec.ts")
NEW_FROM = 12

KEY_NAMES = ["CreationClassName", "DeviceID", "Name", "SystemCreationClassName", "SystemName", "Tag"]


def local(tag):
    return tag.split("}", 1)[1] if "}" in tag else tag


def space(tag):
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def go(s):
    return json.dumps(s, ensure_ascii=False)


def parse_props(el):
    props = []
    for ch in el:
        name = local(ch.tag)
        kids = list(ch)
        if not kids:
            text = ch.text or ""
            if props and props[-1]["name"] == name and props[-1]["kind"] == "plain":
                props[-1]["values"].append(text)
            else:
                props.append({"name": name, "kind": "plain", "values": [text]})
        elif len(kids) == 1 and local(kids[0].tag) == "Datetime" and space(kids[0].tag) == NS_COMMON:
            props.append({"name": name, "kind": "datetime", "values": [kids[0].text or ""]})
        elif any(local(k.tag) == "ReferenceParameters" for k in kids):
            addr = ch.find("{%s}Address" % NS_ADDR)
            rp = ch.find("{%s}ReferenceParameters" % NS_ADDR)
            uri = rp.find("{%s}ResourceURI" % NS_WSMAN).text
            sels = []
            ss = rp.find("{%s}SelectorSet" % NS_WSMAN)
            if ss is not None:
                for s in ss:
                    sels.append((s.get("Name"), s.text or ""))
            props.append({"name": name, "kind": "epr", "address": addr.text if addr is not None else "",
                          "uri": uri, "selectors": sels})
        else:
            raise SystemExit("unsupported structured property %s" % name)
    return props


def read(path):
    root = ET.parse(path).getroot()
    body = root.find("{%s}Body" % NS_SOAP)
    payload = list(body)[0]
    with open(path, encoding="utf-8") as f:
        raw = f.read()
    common = NS_COMMON in raw
    if space(payload.tag) == NS_ENUM and local(payload.tag) == "PullResponse":
        items = payload.find("{%s}Items" % NS_ENUM)
        insts = [(local(i.tag), space(i.tag), parse_props(i)) for i in (items if items is not None else [])]
        end = payload.find("{%s}EndOfSequence" % NS_ENUM) is not None
        ctx = payload.find("{%s}EnumerationContext" % NS_ENUM) is not None
        return "pull", insts, common, (end, ctx)
    return "get", [(local(payload.tag), space(payload.tag), parse_props(payload))], common, (True, False)


def main():
    rec = sys.argv[1]
    prov = json.load(open(os.path.join(rec, "provenance.json")))
    info = {f["file"]: f for f in prov["files"]}
    out = []
    w = out.append
    w("// Code generated by gen_captured.py from the firmware captures; DO NOT EDIT.\n")
    w("\npackage amtsim\n")
    w("\n// capturedClasses holds, per class family, the classes served as the\n")
    w("// captures show them. Each shape names the capture it was taken from.\n")
    w("var capturedClasses = []*capturedClass{\n")
    for family, topics in FAMILIES:
        w("\t// %s\n" % family)
        for topic in topics:
            files = sorted(os.listdir(os.path.join(rec, topic)))
            def real(f):
                return info.get("%s/%s" % (topic, f), {}).get("authenticity") == "firmware-capture"
            pulls = [f for f in files if f.startswith("PullResponse")]
            gets = [f for f in files if f.startswith("GetResponse")]
            # Genuine captures first; edited ones only where nothing else
            # exists.
            cands = [f for f in pulls if real(f)] or [f for f in gets if real(f)] or pulls or gets
            if not cands:
                continue
            old = [f for f in cands if info["%s/%s" % (topic, f)]["path"] in OLD_DEVICE_PATHS]
            new = [f for f in cands if f not in old]
            if old and new:
                shapes = [(0, old[0]), (NEW_FROM, new[0])]
            elif new:
                shapes = [(0, new[0])]
            else:
                shapes = [(0, old[0])]
            common_any = False
            keys = None
            singleton = True
            body_shapes = []
            for frm, f in shapes:
                kind, insts, common, end = read(os.path.join(rec, topic, f))
                common_any = common_any or common
                if len(insts) != 1:
                    singleton = False
                if not insts:
                    # An empty enumeration is served as captured.
                    body_shapes.append((frm, f, insts, end))
                    continue
                props = insts[0][2]
                names = [p["name"] for p in props]
                if "InstanceID" in names:
                    k = ["InstanceID"]
                elif any(p["kind"] == "epr" for p in props):
                    k = [p["name"] for p in props if p["kind"] == "epr"]
                else:
                    k = [n for n in KEY_NAMES if n in names]
                keys = keys or k
                body_shapes.append((frm, f, insts, end))
            keys = keys or []
            w("\t{\n\t\tname: %s,\n" % go(topic))
            w("\t\tcommonNS: %s,\n\t\tsingleton: %s,\n" % (str(common_any).lower(), str(singleton).lower()))
            w("\t\tkeys: []string{%s},\n" % ", ".join(go(k) for k in keys))
            w("\t\tshapes: []capturedShape{\n")
            for frm, f, insts, (end, ctx) in body_shapes:
                extra = ", contextAtEnd: true" if end and ctx else ""
                w("\t\t\t{from: %d, source: %s, complete: %s%s, instances: []capturedInstance{\n" % (frm, go(topic + "/" + f), str(end).lower(), extra))
                for cls, ns, props in insts:
                    w("\t\t\t\t{class: %s, uri: %s, props: []capturedProp{\n" % (go(cls), go(ns)))
                    for p in props:
                        if p["kind"] == "epr":
                            sels = ", ".join("{%s, %s}" % (go(a), go(b)) for a, b in p["selectors"])
                            w("\t\t\t\t\t{name: %s, epr: &eprValue{address: %s, resourceURI: %s, selectors: []attr{%s}}},\n" % (
                                go(p["name"]), go(p["address"]), go(p["uri"]), sels))
                        else:
                            dt = ", datetime: true" if p["kind"] == "datetime" else ""
                            w("\t\t\t\t\t{name: %s, values: []string{%s}%s},\n" % (
                                go(p["name"]), ", ".join(go(v) for v in p["values"]), dt))
                    w("\t\t\t\t}},\n")
                w("\t\t\t}},\n")
            w("\t\t},\n\t},\n")
    w("}\n")
    sys.stdout.write("".join(out))


main()
