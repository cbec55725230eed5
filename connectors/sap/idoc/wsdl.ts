// The WSDL of an inbound IDoc endpoint (`GET /exchange/sap/idoc/<endpoint>?wsdl`): one one-way operation
// per basic type the endpoint's flows accept, in SAP's IDoc SOAP namespace, document/literal over SOAP
// 1.1 — the shape SAP's SOAP/IDoc adapter (srtidoc) and PI/Integration Suite's IDoc-SOAP receivers use:
// the operation element is the basic type (`COND_A05`) holding `IDOC` elements (attribute BEGIN) whose
// first child is the control record EDI_DC40 (attribute SEGMENT), then the data segments. The data
// segments are left open (xsd:any): their structure is the basic type's, and the reader checks them.
import { IDOC_SOAP_NS } from './envelope.ts';
import { escapeXml } from './soap.ts';

/** EDI_DC40 as SAP documents it (the IDoc control record, in SAP's field order). */
export const EDI_DC40_FIELDS = [
  'TABNAM', 'MANDT', 'DOCNUM', 'DOCREL', 'STATUS', 'DIRECT', 'OUTMOD', 'EXPRSS', 'TEST', 'IDOCTYP', 'CIMTYP', 'MESTYP', 'MESCOD',
  'MESFCT', 'STD', 'STDVRS', 'STDMES', 'SNDPOR', 'SNDPRT', 'SNDPFC', 'SNDPRN', 'SNDSAD', 'SNDLAD', 'RCVPOR', 'RCVPRT', 'RCVPFC',
  'RCVPRN', 'RCVSAD', 'RCVLAD', 'CREDAT', 'CRETIM', 'REFINT', 'REFGRP', 'REFMES', 'ARCKEY', 'SERIAL',
] as const;

/** The SOAPAction SAP's IDoc SOAP services announce; the endpoint accepts any. */
export const IDOC_SOAP_ACTION = 'http://sap.com/xi/WebService/soap1.1';

export function idocWsdl(o: { endpoint: string; location: string; basicTypes: readonly string[] }): string {
  const types = [...new Set(o.basicTypes)].sort();
  const dc40 = EDI_DC40_FIELDS.map((f) => `<xsd:element name="${f}" type="xsd:string" minOccurs="0"/>`).join('');
  const elements = types.map((t) => `
      <xsd:element name="${t}"><xsd:complexType><xsd:sequence>
        <xsd:element name="IDOC" type="tns:IDOC" maxOccurs="unbounded"/>
      </xsd:sequence></xsd:complexType></xsd:element>`).join('');
  const messages = types.map((t) => `
  <wsdl:message name="${t}"><wsdl:part name="${t}" element="tns:${t}"/></wsdl:message>`).join('');
  const ops = types.map((t) => `
    <wsdl:operation name="${t}"><wsdl:input message="tns:${t}"/></wsdl:operation>`).join('');
  const bindingOps = types.map((t) => `
    <wsdl:operation name="${t}"><soap:operation soapAction="${IDOC_SOAP_ACTION}" style="document"/><wsdl:input><soap:body use="literal"/></wsdl:input></wsdl:operation>`).join('');
  return `<?xml version="1.0" encoding="utf-8"?>
<wsdl:definitions name="IdocInbound" targetNamespace="${IDOC_SOAP_NS}" xmlns:tns="${IDOC_SOAP_NS}"
  xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/" xmlns:xsd="http://www.w3.org/2001/XMLSchema">
  <wsdl:documentation>Magistral inbound IDoc endpoint '${escapeXml(o.endpoint)}': IDocs of basic types ${types.join(', ')} (one-way; HTTP Basic).</wsdl:documentation>
  <wsdl:types>
    <xsd:schema targetNamespace="${IDOC_SOAP_NS}" elementFormDefault="unqualified">
      <xsd:complexType name="EDI_DC40"><xsd:sequence>${dc40}</xsd:sequence><xsd:attribute name="SEGMENT" type="xsd:string"/></xsd:complexType>
      <xsd:complexType name="IDOC"><xsd:sequence>
        <xsd:element name="EDI_DC40" type="tns:EDI_DC40"/>
        <xsd:any minOccurs="0" maxOccurs="unbounded" processContents="lax"/>
      </xsd:sequence><xsd:attribute name="BEGIN" type="xsd:string" use="required"/></xsd:complexType>${elements}
    </xsd:schema>
  </wsdl:types>${messages}
  <wsdl:portType name="IdocInbound">${ops}
  </wsdl:portType>
  <wsdl:binding name="IdocInboundSoap" type="tns:IdocInbound">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>${bindingOps}
  </wsdl:binding>
  <wsdl:service name="IdocInbound">
    <wsdl:port name="IdocInboundSoap" binding="tns:IdocInboundSoap"><soap:address location="${escapeXml(o.location, true)}"/></wsdl:port>
  </wsdl:service>
</wsdl:definitions>
`;
}
