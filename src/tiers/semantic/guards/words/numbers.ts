/** Word tables of the numbers guard (numbers.ts): number words, scales, units and currencies, English and Chinese. */
const table = (spec: string): Map<string, number> =>
  new Map(
    spec.split(' ').map((pair) => {
      const [word, value] = pair.split(':') as [string, string];
      return [word, Number(value)];
    }),
  );

/** Count words. "zero" and "half" are left out (zero knowledge, half the time). */
export const CARDINALS: ReadonlyMap<string, number> = table(
  'one:1 two:2 three:3 four:4 five:5 six:6 seven:7 eight:8 nine:9 ten:10 eleven:11 twelve:12 thirteen:13 fourteen:14 fifteen:15 sixteen:16 seventeen:17 eighteen:18 nineteen:19 twenty:20 thirty:30 forty:40 fifty:50 sixty:60 seventy:70 eighty:80 ninety:90',
);
export const ORDINALS: ReadonlyMap<string, number> = table(
  'first:1 second:2 third:3 fourth:4 fifth:5 sixth:6 seventh:7 eighth:8 ninth:9 tenth:10 eleventh:11 twelfth:12 thirteenth:13 fourteenth:14 fifteenth:15 sixteenth:16 seventeenth:17 eighteenth:18 nineteenth:19 twentieth:20 thirtieth:30 fortieth:40 fiftieth:50 hundredth:100',
);
/** Multipliers after a count ("two hundred", "5 million", "a dozen"); never on their own ("hundreds of"). */
export const SCALES: ReadonlyMap<string, number> = table(
  'dozen:12 hundred:100 thousand:1000 million:1000000 billion:1000000000 trillion:1000000000000 lakh:100000 lakhs:100000 crore:10000000 crores:10000000',
);
/** "a second", "per second", "second hand", "second chance": not an ordinal. */
export const NOT_ORDINAL_BEFORE: ReadonlySet<string> = new Set([
  'a',
  'per',
  'each',
  'every',
  'one',
  'split',
  'nano',
  'milli',
  'micro',
]);
export const NOT_ORDINAL_AFTER: ReadonlySet<string> = new Set(
  'hand hands chance chances opinion opinions thought thoughts nature guess language languages'.split(' '),
);

const unitTable = (spec: string): Map<string, string> => {
  const out = new Map<string, string>();
  for (const group of spec.split(' ')) {
    const [canon, words] = group.split('=') as [string, string];
    for (const w of words.split(',')) out.set(w, canon);
  }
  return out;
};

/** Units after a number (5 km, 5km, 10 dollars). Single letters count only when attached (5m). */
export const UNITS: ReadonlyMap<string, string> = unitTable(
  'km=km,kms,kilometer,kilometers,kilometre,kilometres mile=mi,mile,miles m=m,meter,meters,metre,metres cm=cm,centimeter,centimeters,centimetre,centimetres mm=mm,millimeter,millimeters ft=ft,foot,feet inch=inch,inches yard=yd,yard,yards ' +
    'kg=kg,kgs,kilo,kilos,kilogram,kilograms lb=lb,lbs g=g,gram,grams,gm oz=oz,ounce,ounces ton=ton,tons,tonne,tonnes l=l,liter,liters,litre,litres ml=ml,milliliter,milliliters gal=gal,gallon,gallons ' +
    'usd=dollar,dollars,usd,buck,bucks eur=euro,euros,eur gbp=gbp,pound,pounds,quid jpy=yen,jpy cny=yuan,rmb,cny,renminbi inr=rupee,rupees,inr btc=btc,bitcoin,bitcoins ' +
    'c=celsius,centigrade f=fahrenheit kb=kb,kilobyte,kilobytes mb=mb,megabyte,megabytes gb=gb,gig,gigs,gigabyte,gigabytes tb=tb,terabyte,terabytes ghz=ghz mhz=mhz hz=hz w=w,watt,watts kw=kw kwh=kwh v=volt,volts mah=mah ' +
    'second=s,sec,secs,seconds minute=min,mins,minute,minutes hour=h,hr,hrs,hour,hours day=d,day,days week=wk,wks,week,weeks month=mo,mos,month,months year=y,yr,yrs,year,years decade=decade,decades',
);
/** Words and symbols before a number that give its currency: $10, Rs 500. */
export const CURRENCY_BEFORE: ReadonlyMap<string, string> = unitTable(
  'usd=$,usd,us$ eur=€,eur gbp=£,gbp jpy=¥ inr=₹,rs,inr cny=rmb,cny',
);
export const AM: ReadonlySet<string> = new Set(['am', 'a.m']);
export const PM: ReadonlySet<string> = new Set(['pm', 'p.m']);
export const ORDINAL_SUFFIX: ReadonlySet<string> = new Set(['st', 'nd', 'rd', 'th']);

/** Chinese numerals. 两/俩 are 2; 几 (several) is not a number. */
export const CN_DIGITS: Readonly<Record<string, number>> = {
  零: 0,
  〇: 0,
  一: 1,
  二: 2,
  两: 2,
  俩: 2,
  三: 3,
  四: 4,
  五: 5,
  六: 6,
  七: 7,
  八: 8,
  九: 9,
};
export const CN_SCALES: Readonly<Record<string, number>> = {
  十: 10,
  百: 100,
  千: 1000,
  万: 10000,
  亿: 100000000,
};
/** Units after a Chinese or Arabic numeral, longest first where one is a prefix of another. */
export const CN_UNITS: ReadonlyArray<readonly [string, string]> = [
  ['个月', 'month'],
  ['个小时', 'hour'],
  ['小时', 'hour'],
  ['钟头', 'hour'],
  ['分钟', 'minute'],
  ['秒', 'second'],
  ['天', 'day'],
  ['日', 'day'],
  ['号', 'date'],
  ['周', 'week'],
  ['星期', 'week'],
  ['礼拜', 'week'],
  ['月', 'calendar-month'],
  ['年', 'year'],
  ['岁', 'age'],
  ['公里', 'km'],
  ['千米', 'km'],
  ['英里', 'mile'],
  ['厘米', 'cm'],
  ['毫米', 'mm'],
  ['米', 'm'],
  ['公斤', 'kg'],
  ['千克', 'kg'],
  ['斤', 'jin'],
  ['克', 'g'],
  ['吨', 'ton'],
  ['升', 'l'],
  ['美元', 'usd'],
  ['美金', 'usd'],
  ['欧元', 'eur'],
  ['日元', 'jpy'],
  ['英镑', 'gbp'],
  ['港币', 'hkd'],
  ['港元', 'hkd'],
  ['人民币', 'cny'],
  ['元', 'cny'],
  ['块', 'cny'],
  ['次', 'times'],
  ['倍', 'times-multiple'],
  ['度', 'degree'],
  ['折', 'discount'],
];
export const CN_AM: ReadonlySet<string> = new Set(['上午', '早上', '早晨', '凌晨', '清晨']);
export const CN_PM: ReadonlySet<string> = new Set(['下午', '晚上', '傍晚', '夜里', '夜晚']);
