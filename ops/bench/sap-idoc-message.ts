// Generated IDoc-XML for the SAP endpoint benchmarks (shape of the fixtures in test/fixtures/sap: SAP's documented COND_A05 segments).
/** One COND_A05 message of N IDocs (DOCNUMs from `first`), one condition each, every 10th with 3 scales (the load shape). */
export function condAMessage(n: number, first = 0): Buffer {
  const parts: string[] = ['<?xml version="1.0" encoding="UTF-8"?>\n<COND_A05>\n'];
  for (let i = 0; i < n; i++) {
    const docnum = String(4_000_000_000 + first + i).padStart(16, '0');
    const scales = i % 10 === 0 ? [10, 50, 100].map((q, k) => `<E1KONM SEGMENT="1"><KSTBM>${q}.000</KSTBM><KBETR>${(1000 - k * 10)}.00</KBETR></E1KONM>`).join('') : '';
    parts.push(`<IDOC BEGIN="1"><EDI_DC40 SEGMENT="1"><TABNAM>EDI_DC40</TABNAM><MANDT>100</MANDT><DOCNUM>${docnum}</DOCNUM><DOCREL>758</DOCREL><STATUS>30</STATUS>`
      + `<DIRECT>1</DIRECT><OUTMOD>2</OUTMOD><IDOCTYP>COND_A05</IDOCTYP><MESTYP>COND_A</MESTYP><SNDPOR>SAPS4H</SNDPOR><SNDPRT>LS</SNDPRT><SNDPRN>S4HCLNT100</SNDPRN>`
      + `<RCVPOR>MAGISTRAL</RCVPOR><RCVPRT>LS</RCVPRT><RCVPRN>MAGISTRAL</RCVPRN><CREDAT>20261201</CREDAT><CRETIM>101500</CRETIM></EDI_DC40>\n`
      + `<E1KOMG SEGMENT="1"><KVEWE>A</KVEWE><KAPPL>V</KAPPL><KSCHL>PR00</KSCHL><VAKEY>100010 MAT-${i % 50000}</VAKEY><VKORG>1000</VKORG><VTWEG>10</VTWEG><MATNR>MAT-${i % 50000}</MATNR>`
      + `<E1KONH SEGMENT="1"><KNUMH>${String(i).padStart(10, '0')}</KNUMH><DATAB>20261201</DATAB><DATBI>99991231</DATBI>`
      + `<E1KONP SEGMENT="1"><KSCHL>PR00</KSCHL><KBETR>${(i % 100000) / 100}</KBETR><KONWA>RUB</KONWA><KPEIN>1</KPEIN><KMEIN>PCE</KMEIN><LOEVM_KO></LOEVM_KO>${scales}</E1KONP>`
      + `</E1KONH></E1KOMG></IDOC>\n`);
  }
  parts.push('</COND_A05>\n');
  return Buffer.from(parts.join(''));
}
