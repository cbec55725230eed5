// What an upload is, by its bytes: PDF, JPEG and PNG pass; an executable, an archive or an HTML page is
// refused whatever its name says; a PDF with scripts, launch actions or embedded files, a truncated PDF,
// an empty file and one past 10 MB are refused with the reason. VAT included is exact on kopecks.
import { describe, expect, it } from 'vitest';
import { FileRefused, MAX_SCAN_BYTES, nameFor, sniffUpload } from '../../src/backoffice/file-type.ts';
import { fromKopecks, printMoney, toKopecks, vatIncluded } from '../../src/backoffice/money.ts';

const PDF = Buffer.from('%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n', 'latin1');
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]);
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13]);
const scan = (b: Buffer, name: string) => sniffUpload(b, name, { what: 'Скан' });

describe('sniffUpload', () => {
  it('takes PDF, JPEG and PNG by content whatever the name', () => {
    expect(scan(PDF, 'dogovor.pdf')).toBe('application/pdf');
    expect(scan(JPEG, 'scan.png')).toBe('image/jpeg');
    expect(scan(PNG, 'scan')).toBe('image/png');
    expect(nameFor('scan.png', 'image/jpeg')).toBe('scan.jpg');
    expect(nameFor('C:\\Users\\x\\..\\подписанный.PDF', 'application/pdf')).toBe('подписанный.pdf');
  });

  it.each([
    [Buffer.concat([Buffer.from('MZ', 'latin1'), Buffer.alloc(64)]), 'dogovor.pdf', /исполняемая программа Windows \(EXE\/DLL\).*расширение в имени файла не меняет его содержимое/],
    [Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]), 'scan.jpg', /исполняемая программа \(ELF\)/],
    [Buffer.from('#!/bin/sh\nrm -rf /', 'latin1'), 'scan.png', /сценарий \(скрипт\)/],
    [Buffer.from([0x50, 0x4b, 0x03, 0x04, 0, 0]), 'scan.pdf', /архив ZIP или документ Office/],
    [Buffer.from('<!DOCTYPE html><script>alert(1)</script>', 'latin1'), 'scan.pdf', /HTML\/XML-документ/],
    [Buffer.from('просто текст', 'utf8'), 'scan.txt', /по содержимому это не PDF, JPEG или PNG/],
  ])('refuses %#: what is not a scan', (bytes, name, reason) => {
    expect(() => scan(bytes, name)).toThrow(FileRefused);
    expect(() => scan(bytes, name)).toThrow(reason);
  });

  it('refuses active or broken PDFs, empty and oversized files', () => {
    const js = Buffer.from('%PDF-1.7\n1 0 obj << /OpenAction << /S /JavaScript /JS (app.alert(1)) >> >> endobj\n%%EOF\n', 'latin1');
    expect(() => scan(js, 'a.pdf')).toThrow(/исполняемое содержимое/);
    const embedded = Buffer.from('%PDF-1.7\n<< /Names << /EmbeddedFiles 2 0 R >> >>\n%%EOF', 'latin1');
    expect(() => scan(embedded, 'a.pdf')).toThrow(/исполняемое содержимое/);
    const launch = Buffer.from('%PDF-1.7\n<< /S /Launch /F (cmd.exe) >>\n%%EOF', 'latin1');
    expect(() => scan(launch, 'a.pdf')).toThrow(/исполняемое содержимое/);
    expect(() => scan(PDF.subarray(0, 30), 'a.pdf')).toThrow(/повреждён или загружен не полностью/);
    expect(() => scan(Buffer.alloc(0), 'a.pdf')).toThrow('Скан «a.pdf» пустой. Выберите файл PDF, JPEG или PNG.');
    const big = Buffer.concat([JPEG, Buffer.alloc(MAX_SCAN_BYTES)]);
    expect(() => scan(big, 'big.jpg')).toThrow('Скан «big.jpg» слишком большой: 10,0 МБ, можно не больше 10 МБ.');
    expect(() => sniffUpload(JPEG, 'c.jpg', { what: 'Документ', allowed: ['application/pdf'] })).toThrow('Документ «c.jpg» не принят: по содержимому это изображение JPEG, а нужен файл PDF.');
  });
});

describe('money on kopecks', () => {
  it.each([
    ['122.00', '22', '22.00'], ['100.00', '22', '18.03'], ['0.01', '22', '0.00'], ['0.06', '22', '0.01'], ['582174.68', '22', '104982.32'],
    ['110.00', '10', '10.00'], ['120.00', '20', '20.00'], ['1000.00', '0', '0.00'], ['99999999999.99', '22', '18032786885.24'],
  ])('VAT in %s at %s %% is %s', (gross, rate, vat) => {
    expect(fromKopecks(vatIncluded(toKopecks(gross), rate))).toBe(vat);
  });

  it('reads and prints amounts exactly', () => {
    expect(toKopecks('1234.5')).toBe(123450n);
    expect(toKopecks('1234.500000')).toBe(123450n);
    expect(() => toKopecks('1.005')).toThrow(/fractions of a kopeck/);
    expect(printMoney('1234567.8')).toBe('1 234 567,80');
    expect(printMoney('18081.36')).toBe('18 081,36');
  });
});
