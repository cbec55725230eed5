// Exact decimal helpers of the mapping stage: human number formats in, canonical strings out, and
// rounding/multiplication done on digits, never on floats.
import { describe, expect, it } from 'vitest';
import { divideDecimal, multiplyDecimal, parseDecimal, parseNumber, roundDecimal } from '../../src/mapping/index.ts';

describe('parseDecimal', () => {
  it.each([
    ['1234.50', '1234.50'],
    ['1234,5', '1234.5'],
    ['1 234,50', '1234.50'],
    ['1\u00a0234\u00a0567,5', '1234567.5'],
    ['1,234.50', '1234.50'],
    ['1.234,50', '1234.50'],
    ['1.234.567', '1234567'],
    ['1,234,567', '1234567'],
    ['1,234', '1.234'],
    ['007', '7'],
    ['0.5', '0.5'],
    ['.5', '0.5'],
    ['5.', '5'],
    ['-0,00', '0.00'],
    ['-12,5', '-12.5'],
    ['+3', '3'],
    ['  42  ', '42'],
    ['99999999999999.999999', '99999999999999.999999'],
  ])('%j → %j', (input, out) => {
    expect(parseDecimal(input)).toBe(out);
  });

  it.each(['', 'abc', '1.2.3,4', '12a', '1,2,3', '1,23,456.7', '--1', '1e5', ',', '1 000 ,5x'])('%j is not a number', (input) => {
    expect(parseDecimal(input)).toBeNull();
  });
});

describe('roundDecimal (half up, exact)', () => {
  it.each([
    ['1.005', 2, '1.01'],
    ['1.004999', 2, '1.00'],
    ['2.675', 2, '2.68'], // 2.675 as a float is 2.67499999…: a float-based rounding gives 2.67
    ['999.995', 2, '1000.00'],
    ['-1.005', 2, '-1.01'],
    ['-0.004', 2, '0.00'],
    ['12.5', 0, '13'],
    ['12.4', 0, '12'],
    ['7', 3, '7.000'],
    ['0.1', 2, '0.10'],
    ['123456789012345.123456', 4, '123456789012345.1235'],
  ])('%s to %i → %s', (input, scale, out) => {
    expect(roundDecimal(input, scale)).toBe(out);
  });
});

describe('multiply and divide', () => {
  it('multiplies exactly and rounds half up', () => {
    expect(multiplyDecimal('0.1', '3', 6)).toBe('0.3');
    expect(multiplyDecimal('19.99', '12', 2)).toBe('239.88');
    expect(multiplyDecimal('1.25', '0.5', 2)).toBe('0.63');
    expect(multiplyDecimal('99999999999999.99', '1000', 2)).toBe('99999999999999990');
  });
  it('divides exactly and rounds half up', () => {
    expect(divideDecimal('100', '3', 2)).toBe('33.33');
    expect(divideDecimal('200', '3', 2)).toBe('66.67');
    expect(divideDecimal('1', '8', 2)).toBe('0.13');
    expect(divideDecimal('-1', '8', 2)).toBe('-0.13');
    expect(divideDecimal('120.50', '12', 6)).toBe('10.041667');
    expect(() => divideDecimal('1', '0.00', 2)).toThrow(RangeError);
  });
});

describe('parseNumber', () => {
  it('canonicalises and shifts exponents exactly', () => {
    expect(parseNumber('12,500')).toBe('12.5');
    expect(parseNumber('1.5E3')).toBe('1500');
    expect(parseNumber('25e-4')).toBe('0.0025');
    expect(parseNumber('-3.0')).toBe('-3');
    expect(parseNumber('x')).toBeNull();
  });
});
