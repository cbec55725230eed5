// SOAP framing of the inbound IDoc endpoint: the answers a SOAP sender (SAP's SOAP/IDoc adapter, PI/PO,
// Integration Suite, any WS stack) expects. The request itself is read by envelope.ts from the stored raw
// bytes, not by a SOAP server library: the inbox must hold exactly what SAP sent, and a 100 MB IDoc
// message must stream to disk, which the `soap` package's server (it buffers and parses the whole
// request into objects before calling a handler) does not do. The `soap` package is the client in tests.
import { SOAP11_NS, SOAP12_NS } from './envelope.ts';

export type SoapVersion = '1.1' | '1.2';

/** Escapes XML text (quotes need no escape there and read better in a faultstring); `attribute` also escapes `"`. */
function escapeXml(s: string, attribute = false): string {
  return s.replace(attribute ? /[&<>"]/g : /[&<>]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!)
    // Characters XML 1.0 cannot hold at all (a control byte quoted from a broken message).
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '?');
}

export { escapeXml };

/** The SOAP version a request announces before its body is read: SOAP 1.2's media type, else a SOAPAction header means 1.1. */
export function soapVersionOfRequest(contentType: string | undefined, soapAction: string | undefined): SoapVersion | undefined {
  const ct = (contentType ?? '').toLowerCase();
  if (ct.startsWith('application/soap+xml')) return '1.2';
  if (soapAction !== undefined) return '1.1';
  return undefined;
}

export interface SoapAnswer {
  status: number;
  contentType: string;
  body: string;
}

/**
 * A fault caused by the sender's message (faultcode Client / Code Sender). SOAP 1.1 over HTTP requires
 * status 500 for every fault; SOAP 1.2 answers a Sender fault with 400.
 */
export function soapFault(version: SoapVersion, reason: string): SoapAnswer {
  const text = escapeXml(reason);
  if (version === '1.2') {
    return {
      status: 400,
      contentType: 'application/soap+xml; charset=utf-8',
      body: `<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="${SOAP12_NS}"><env:Body><env:Fault>`
        + `<env:Code><env:Value>env:Sender</env:Value></env:Code><env:Reason><env:Text xml:lang="en">${text}</env:Text></env:Reason>`
        + `</env:Fault></env:Body></env:Envelope>`,
    };
  }
  return {
    status: 500,
    contentType: 'text/xml; charset=utf-8',
    body: `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="${SOAP11_NS}"><soap:Body><soap:Fault>`
      + `<faultcode>soap:Client</faultcode><faultstring xml:lang="en">${text}</faultstring>`
      + `</soap:Fault></soap:Body></soap:Envelope>`,
  };
}

/**
 * The answer to a stored message. The IDoc operations are one-way (SAP sends IDocs asynchronously), so
 * the answer carries an empty Body: SAP's adapter and WS clients read the 200 as "delivered".
 */
export function soapAccepted(version: SoapVersion): SoapAnswer {
  const ns = version === '1.2' ? SOAP12_NS : SOAP11_NS;
  return {
    status: 200,
    contentType: version === '1.2' ? 'application/soap+xml; charset=utf-8' : 'text/xml; charset=utf-8',
    body: `<?xml version="1.0" encoding="utf-8"?><env:Envelope xmlns:env="${ns}"><env:Body/></env:Envelope>`,
  };
}
