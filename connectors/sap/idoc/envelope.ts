// What the inbound endpoint needs to know about a message before it answers SAP: is it well-formed
// XML, and which IDocs does it hold (each IDoc's control record EDI_DC40: DOCNUM, MESTYP, IDOCTYP …).
// The scan runs on the bytes as they arrive (fed chunk by chunk while the body is written to the
// inbox) with the connector kit's tokenizer, so DOCTYPE/ENTITY (XXE) and malformed markup are refused
// with line and column exactly as the reader will refuse them; only the control records' fields are
// decoded, segment data is skipped. Two shapes are understood:
//
//   IDoc-XML (XML-HTTP port, PI/PO, Integration Suite):   <COND_A05><IDOC BEGIN="1"><EDI_DC40 SEGMENT="1">…
//   IDoc over SOAP (SAP's SOAP/IDoc adapter, srtidoc):    <soap:Envelope><soap:Body>
//        <urn:COND_A05 xmlns:urn="urn:sap-com:document:sap:idoc:soap:messages"><IDOC BEGIN="1">…
//
// A message that is XML but not an IDoc message (no IDOC, no control record, a wrong SOAP envelope)
// is a `problem`; XML that cannot be read is an `error` naming the IDoc (DOCNUM) being read and the
// segment path besides the scanner's line and column.
import { XmlScanner, type ScanHandler } from '../../lib/index.ts';
import { PayloadError, formatPosition } from '../../../src/port/index.ts';

export const SOAP11_NS = 'http://schemas.xmlsoap.org/soap/envelope/';
export const SOAP12_NS = 'http://www.w3.org/2003/05/soap-envelope';
/** The namespace of SAP's IDoc SOAP messages (the operation element, named after the basic type). */
export const IDOC_SOAP_NS = 'urn:sap-com:document:sap:idoc:soap:messages';

/** EDI_DC40 fields kept per IDoc (the rest of the control record is left to the reader). */
export const CONTROL_FIELDS = ['DOCNUM', 'MESTYP', 'IDOCTYP', 'CIMTYP', 'SNDPOR', 'SNDPRT', 'SNDPRN', 'RCVPRN', 'CREDAT', 'CRETIM'] as const;
export type ControlField = (typeof CONTROL_FIELDS)[number];
export type ControlRecord = Record<ControlField, string>;

export interface IdocHead {
  /** 1-based position of the IDoc in the message. */
  index: number;
  /** Line of its `<IDOC>` tag. */
  line: number;
  control: ControlRecord;
}

export interface EnvelopeScan {
  format: 'xml' | 'soap';
  soapVersion?: '1.1' | '1.2';
  /** Local name of the element holding the IDOCs: the basic type (or extension) as SAP names it. */
  root: string;
  /** IDocs in the message (read completely, or the one an error stopped in once its type was read). */
  idocCount: number;
  /** DOCNUM of each of them, in message order ('' when an IDoc has none). */
  docnums: string[];
  /**
   * The first IDoc of each distinct (MESTYP, IDOCTYP, CIMTYP): all the endpoint dispatches on. Only
   * these are kept whole: a head per IDoc cost 200 bytes of heap each (20 MB for a message of 100,000
   * IDocs, measured with ops/bench/sap-endpoint-scan.ts), a DOCNUM alone about 40.
   */
  types: IdocHead[];
  /** The body is not well-formed XML (or refused: DOCTYPE, encoding): the position, the IDoc and segment being read. */
  error?: PayloadError;
  /** The error's text after its position (IDoc, segment, what is wrong), to name it under another file name. */
  errorDetail?: string;
  /** Well-formed, but not an IDoc message as the endpoint accepts it; the message says where and why. */
  problem?: string;
}

// Vocabulary: name ids are the indices.
const NAMES = ['IDOC', 'EDI_DC40', 'Envelope', 'Header', 'Body', 'BEGIN', ...CONTROL_FIELDS] as const;
const IDOC = 0;
const EDI_DC40 = 1;
const ENVELOPE = 2;
const HEADER = 3;
const BODY = 4;
const BEGIN = 5;
const FIELD0 = 6;
const isField = (name: number): boolean => name >= FIELD0 && name < NAMES.length;

const emptyControl = (): ControlRecord => Object.fromEntries(CONTROL_FIELDS.map((f) => [f, ''])) as ControlRecord;

/** The prefix of a qualified name (`soap:Envelope` → `soap`, `Envelope` → ''). */
const prefixOf = (qname: string): string => {
  const i = qname.indexOf(':');
  return i < 0 ? '' : qname.slice(0, i);
};

/**
 * Scans one message. Feed it with write() as the bytes arrive and call end() once; it never throws on
 * bad input (the endpoint keeps storing the body to give the run the same error).
 */
export class EnvelopeScanner implements ScanHandler {
  private readonly scanner: XmlScanner;
  private readonly fileName: string;
  private format: 'xml' | 'soap' = 'xml';
  private soapVersion: '1.1' | '1.2' | undefined;
  /** Depth of the element holding the IDOCs (1 for IDoc-XML, 3 for SOAP). */
  private rootDepth = 1;
  private root = '';
  private idocCount = 0;
  private readonly docnums: string[] = [];
  private readonly types = new Map<string, IdocHead>();
  private current: IdocHead | undefined;
  private inControl = false;
  private error: PayloadError | undefined;
  private errorDetail = '';
  private problem: string | undefined;
  /** Element name ids by depth, for the segment path of an error (built only then). */
  private stack = new Int32Array(64);
  private depth = 0;
  private bodySeen = false;
  private bodyChildren = 0;
  private skipBelow = 0;
  /** Namespace declarations of the envelope's first three levels (prefix → URI), innermost last. */
  private readonly nsScopes: Array<Map<string, string>> = [];

  constructor(fileName: string) {
    this.fileName = fileName;
    this.scanner = new XmlScanner({ fileName, names: NAMES, format: 'IDoc-XML' }, this);
  }

  write(chunk: Buffer): void {
    if (this.error || this.scanner.isStopped) return;
    try {
      this.scanner.write(chunk);
    } catch (e) {
      this.fail(e);
    }
  }

  end(): EnvelopeScan {
    if (!this.error && !this.scanner.isStopped) {
      try {
        this.scanner.end();
      } catch (e) {
        this.fail(e);
      }
    }
    if (!this.error && !this.problem) {
      if (this.format === 'soap' && !this.bodySeen) this.problem = 'the SOAP envelope has no Body';
      else if (this.format === 'soap' && this.bodyChildren === 0) this.problem = `the SOAP Body is empty: it must hold the IDoc message (the basic type's element in namespace ${IDOC_SOAP_NS})`;
      else if (!this.idocCount) this.problem = `<${this.root}> holds no <IDOC BEGIN="1">: not an IDoc message`;
    }
    return {
      format: this.format, soapVersion: this.soapVersion, root: this.root, idocCount: this.idocCount, docnums: this.docnums, types: [...this.types.values()],
      ...(this.error ? { error: this.error, errorDetail: this.errorDetail } : {}), ...(this.problem ? { problem: this.problem } : {}),
    };
  }

  private fail(e: unknown): void {
    if (!(e instanceof PayloadError)) throw e;
    // The scanner's message is `file:line:column: detail`; say which IDoc and segment it happened in.
    const prefix = `${formatPosition(e.position)}: `;
    const detail = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
    const where: string[] = [];
    const idoc = this.current;
    if (idoc) where.push(`IDoc ${idoc.control.DOCNUM || '(DOCNUM not read yet)'} (#${idoc.index} in the message)`);
    const segment = this.segmentPath();
    if (segment) where.push(`segment ${segment}`);
    const code = e.code === 'MAG_ERR_PAYLOAD_ENCODING' || e.code === 'MAG_ERR_PAYLOAD_TOO_LARGE' ? e.code : 'MAG_ERR_PAYLOAD_MALFORMED';
    this.errorDetail = where.length ? `${where.join(', ')}: ${detail}` : detail;
    this.error = new PayloadError(code, e.position, this.errorDetail);
    // The IDoc being read counts when its type is known (its flows get the run that reports the error).
    if (idoc?.control.MESTYP) this.count(idoc);
  }

  /** Element path of the element being read, e.g. `/COND_A05/IDOC/E1KOMG/E1KONH`. */
  private segmentPath(): string {
    const parts: string[] = [];
    for (let d = 1; d <= Math.min(this.depth, this.stack.length - 1); d++) parts.push(this.scanner.nameOf(this.stack[d]!));
    return parts.length ? `/${parts.join('/')}` : '';
  }

  private refuse(message: string): void {
    if (this.problem) return;
    this.problem = `${this.fileName}:${this.scanner.currentLine()}: ${message}`;
    // Nothing more to learn: the rest is still checked for well-formedness by the reader's run, but the endpoint refuses now.
    this.scanner.stop();
  }

  open(name: number, depth: number): boolean {
    this.depth = depth;
    if (depth < this.stack.length) this.stack[depth] = name;
    if (this.skipBelow && depth > this.skipBelow) return false;
    this.skipBelow = 0;
    if (depth === 1) {
      if (name === ENVELOPE && this.openEnvelope()) return false;
      if (this.format === 'xml') this.root = this.scanner.nameOf(name);
      return false;
    }
    if (this.format === 'soap' && depth <= 3) {
      this.openSoap(name, depth);
      return false;
    }
    const rel = depth - this.rootDepth;
    if (rel === 1) {
      if (name !== IDOC) {
        this.refuse(`<${this.scanner.nameOf(name)}> inside <${this.root}>: an IDoc message holds <IDOC BEGIN="1"> elements only`);
        return false;
      }
      this.current = { index: this.idocCount + 1, line: this.scanner.currentLine(), control: emptyControl() };
      const begin = this.scanner.attr(BEGIN);
      if (begin !== undefined && begin !== '1') this.refuse(`IDoc #${this.current.index}: <IDOC BEGIN="${begin}">, SAP writes BEGIN="1"`);
      return false;
    }
    if (rel === 2) {
      this.inControl = name === EDI_DC40;
      if (!this.inControl && this.current && !this.current.control.MESTYP) {
        this.refuse(`IDoc #${this.current.index}: segment <${this.scanner.nameOf(name)}> before the control record EDI_DC40 (SAP writes EDI_DC40 first)`);
      }
      return false;
    }
    return rel === 3 && this.inControl && isField(name);
  }

  close(name: number, depth: number, text: string): void {
    this.depth = depth - 1;
    const rel = depth - this.rootDepth;
    if (rel === 3 && this.inControl && isField(name) && this.current) {
      this.current.control[NAMES[name] as ControlField] = text.trim();
    } else if (rel === 2 && name === EDI_DC40) {
      this.inControl = false;
    } else if (rel === 1 && name === IDOC && this.current) {
      const c = this.current;
      if (!c.control.MESTYP && !c.control.IDOCTYP) this.refuse(`IDoc #${c.index} (line ${c.line}) has no control record EDI_DC40 with MESTYP and IDOCTYP`);
      else this.count(c);
      this.current = undefined;
    }
    if (this.format === 'soap' && depth <= 3) this.nsScopes.length = Math.min(this.nsScopes.length, depth - 1);
  }

  private count(idoc: IdocHead): void {
    this.idocCount++;
    this.docnums.push(idoc.control.DOCNUM);
    const c = idoc.control;
    const key = `${c.MESTYP}|${c.IDOCTYP}|${c.CIMTYP}`;
    if (!this.types.has(key)) this.types.set(key, idoc);
  }

  /** The namespace URI bound to `prefix` by the declarations in scope ('' for none). */
  private resolve(prefix: string): string | undefined {
    const key = prefix ? `xmlns:${prefix}` : 'xmlns';
    for (let i = this.nsScopes.length - 1; i >= 0; i--) {
      const v = this.nsScopes[i]!.get(key);
      if (v !== undefined) return v;
    }
    return prefix ? undefined : '';
  }

  private pushScope(depth: number): string {
    const decls = new Map<string, string>();
    for (const [k, v] of this.scanner.attributes()) if (k === 'xmlns' || k.startsWith('xmlns:')) decls.set(k, v);
    this.nsScopes.length = depth - 1;
    this.nsScopes.push(decls);
    const q = this.scanner.qualifiedName();
    const prefix = prefixOf(q);
    const ns = this.resolve(prefix);
    if (ns === undefined) {
      this.refuse(`the prefix '${prefix}' of <${q}> is not declared`);
      return '';
    }
    return ns;
  }

  /** The root is `Envelope`: a SOAP message if its namespace says so. */
  private openEnvelope(): boolean {
    this.format = 'soap';
    this.rootDepth = 3;
    this.root = '';
    const ns = this.pushScope(1);
    if (ns === SOAP11_NS) this.soapVersion = '1.1';
    else if (ns === SOAP12_NS) this.soapVersion = '1.2';
    else this.refuse(`<${this.scanner.qualifiedName()}> is not a SOAP envelope: its namespace is '${ns}', expected ${SOAP11_NS} (SOAP 1.1) or ${SOAP12_NS} (SOAP 1.2)`);
    return true;
  }

  private openSoap(name: number, depth: number): void {
    const ns = this.pushScope(depth);
    const q = this.scanner.qualifiedName();
    const envNs = this.soapVersion === '1.2' ? SOAP12_NS : SOAP11_NS;
    if (depth === 2) {
      if (ns === envNs && name === HEADER && !this.bodySeen) {
        this.skipBelow = 2; // SOAP headers (WS-Addressing, SAP's own) are not ours to read
        return;
      }
      if (ns === envNs && name === BODY && !this.bodySeen) {
        this.bodySeen = true;
        return;
      }
      this.refuse(`<${q}> in the SOAP envelope: expected an optional Header, then Body (namespace ${envNs})`);
      return;
    }
    // depth 3: the Body's child, the IDoc message named after its basic type.
    this.bodyChildren++;
    if (this.bodyChildren > 1) {
      this.refuse(`the SOAP Body holds more than one element (<${q}>): one IDoc message per request`);
      return;
    }
    const local = this.scanner.nameOf(name);
    if (ns !== IDOC_SOAP_NS) {
      this.refuse(`<${q}> in the SOAP Body is in namespace '${ns}'; SAP's IDoc SOAP messages are in ${IDOC_SOAP_NS} (e.g. <urn:COND_A05 xmlns:urn="${IDOC_SOAP_NS}">)`);
      return;
    }
    this.root = local;
  }
}

/** Scans a whole buffer (tests, tools). */
export function scanEnvelope(fileName: string, body: Buffer): EnvelopeScan {
  const s = new EnvelopeScanner(fileName);
  s.write(body);
  return s.end();
}
