/**
 * Precision guards: a candidate above the similarity threshold is still refused when the two
 * questions differ in something the answer depends on. Embeddings (lexical or neural) place
 * "What is 15% of 80?" right next to "What is 15% of 90?"; these checks are cheap, exact, and
 * only ever turn a hit into a miss. They are written for short questions, English and Chinese.
 *
 *   numbers    the quantities differ. Digits, decimals, versions (3.11), percentages, negative
 *              numbers (-5), number words (twenty-one, a dozen, two hundred, 七, 二十一, 百分之十五)
 *              and scales (5 million, 3万) all become values, so "twenty-one" = "21"; a value 1
 *              alone never refuses ("a week" = "1 week"). Units are compared when both questions
 *              give one to the same value: 5 km / 5 miles, $10 / €10, 5 days / 5 weeks differ;
 *              5km / 5 km / 5 kilometres and $10 / 10 dollars do not (a unit the other question
 *              names elsewhere, "5 miles to km", is left to direction). Times are on a 24-hour
 *              clock: 9am / 9pm and 上午9点 / 下午9点 differ, 9pm / 21:00 do not. Ordinals
 *              (first, 2nd, third, 第二) are values too, "first" like 1 ("second largest" /
 *              "largest" differ, "11th class" / "class 11" and "my first order" / "my order" do
 *              not), and when both questions have ordinals they must be the same: first /
 *              second, 第一次 / 第二次 differ. Superscripts are exponents, never folded: 10² is
 *              10 and ^2 (as 10^2 is), not 102; ½ is 1/2, not 12.
 *   negation   one question has a negation and the other has none (not, no, never, n't, 不, 没 ...;
 *              not 非常 "very", 区别 "difference" or the question form 能不能 / 有没有)
 *   opposites  one question has a word whose opposite the other has (install / uninstall,
 *              add / remove, upgrade / downgrade, 安装 / 卸载 ...), in any inflection
 *              (added / removing)
 *   direction  a relation word (to, from, into, than, vs, per) has its object swapped with
 *              something else in the other question: "5 miles to km" vs "5 km to miles"
 *   entities   the questions name different members of one closed class: programming languages,
 *              operating systems, devices, browsers, clouds, databases, frameworks, plan tiers
 *              (Pro / Enterprise plan, 免费版 / 专业版), billing periods (monthly / yearly,
 *              每月 / 每年), weekdays, months, colours, countries and big cities, currencies and
 *              units, brands and payment methods, refund / exchange. A member counts only when
 *              the other question does not name it too ("Python vs Java" / "Java vs Python"
 *              passes). Also, in English: two questions that differ only in one or two content
 *              words, each side's including a capitalized name ("Pro plan" / "Enterprise plan",
 *              "Tokyo" / "Osaka"), are refused; sentence-initial words and Title Case questions
 *              do not count as names, and names with a common stem (India / Indian), one typo
 *              apart (Senstor / Senator) or an initialism of each other (VS / Visual Studio)
 *              are alike.
 *   symbols    the questions differ in emoji, comparison operators, or superscripts, subscripts,
 *              fractions and enclosed numbers (MEANINGFUL_SYMBOLS): 👍 / 👎, == / ===, 3ⁿ / 3n.
 *
 * Paraphrases also differ in words ("reset" / "change my password"), so no guard refuses a word
 * difference as such. What each guard costs in recall is measured by `npm run bench -- semantic`
 * on public data. A profile of each question is computed once and kept (small LRU), since the
 * same query is checked against several candidates and the same entries come up again and again.
 */
import { STOPWORDS, stem, tokenize } from '../question/text.js';
import {
  foldCompatibility,
  MEANINGFUL_FORMS,
  spellCompatibility,
  withoutInvisible,
} from '../question/unicode.js';

export type GuardName = 'numbers' | 'negation' | 'opposites' | 'direction' | 'entities' | 'symbols';
export const ALL_GUARDS: readonly GuardName[] = [
  'numbers',
  'negation',
  'opposites',
  'direction',
  'entities',
  'symbols',
];

/**
 * Symbols that carry meaning and that embedders drop or cannot read: emoji (👍 vs 👎),
 * comparison or equality operators (== vs ===, >= vs <=), and superscripts, subscripts,
 * fractions and enclosed numbers or letters (3ⁿ vs 3n, H₂O vs H2O, ½, ①), which are never folded
 * into plain text (unicode.ts) but which a model may read as plain text all the same.
 * Punctuation is not among them.
 */
const MEANINGFUL_SYMBOLS = new RegExp(
  `\\p{Extended_Pictographic}|===|!==|==|!=|<=|>=|=>|->|<-|\\s[<>]\\s|${MEANINGFUL_FORMS}`,
  'gu',
);

function symbolsOf(text: string): string[] {
  return (text.match(MEANINGFUL_SYMBOLS) ?? []).map((s) => s.trim()).sort();
}

// ---------------------------------------------------------------------------------------------
// Lexicons

const table = (spec: string): Map<string, number> =>
  new Map(
    spec.split(' ').map((pair) => {
      const [word, value] = pair.split(':') as [string, string];
      return [word, Number(value)];
    }),
  );

/** Count words. "zero" and "half" are left out (zero knowledge, half the time). */
const CARDINALS = table(
  'one:1 two:2 three:3 four:4 five:5 six:6 seven:7 eight:8 nine:9 ten:10 eleven:11 twelve:12 thirteen:13 fourteen:14 fifteen:15 sixteen:16 seventeen:17 eighteen:18 nineteen:19 twenty:20 thirty:30 forty:40 fifty:50 sixty:60 seventy:70 eighty:80 ninety:90',
);
const ORDINALS = table(
  'first:1 second:2 third:3 fourth:4 fifth:5 sixth:6 seventh:7 eighth:8 ninth:9 tenth:10 eleventh:11 twelfth:12 thirteenth:13 fourteenth:14 fifteenth:15 sixteenth:16 seventeenth:17 eighteenth:18 nineteenth:19 twentieth:20 thirtieth:30 fortieth:40 fiftieth:50 hundredth:100',
);
/** Multipliers after a count ("two hundred", "5 million", "a dozen"); never on their own ("hundreds of"). */
const SCALES = table(
  'dozen:12 hundred:100 thousand:1000 million:1000000 billion:1000000000 trillion:1000000000000 lakh:100000 lakhs:100000 crore:10000000 crores:10000000',
);
/** "a second", "per second", "second hand", "second chance": not an ordinal. */
const NOT_ORDINAL_BEFORE = new Set(['a', 'per', 'each', 'every', 'one', 'split', 'nano', 'milli', 'micro']);
const NOT_ORDINAL_AFTER = new Set(
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
const UNITS = unitTable(
  'km=km,kms,kilometer,kilometers,kilometre,kilometres mile=mi,mile,miles m=m,meter,meters,metre,metres cm=cm,centimeter,centimeters,centimetre,centimetres mm=mm,millimeter,millimeters ft=ft,foot,feet inch=inch,inches yard=yd,yard,yards ' +
    'kg=kg,kgs,kilo,kilos,kilogram,kilograms lb=lb,lbs g=g,gram,grams,gm oz=oz,ounce,ounces ton=ton,tons,tonne,tonnes l=l,liter,liters,litre,litres ml=ml,milliliter,milliliters gal=gal,gallon,gallons ' +
    'usd=dollar,dollars,usd,buck,bucks eur=euro,euros,eur gbp=gbp,pound,pounds,quid jpy=yen,jpy cny=yuan,rmb,cny,renminbi inr=rupee,rupees,inr btc=btc,bitcoin,bitcoins ' +
    'c=celsius,centigrade f=fahrenheit kb=kb,kilobyte,kilobytes mb=mb,megabyte,megabytes gb=gb,gig,gigs,gigabyte,gigabytes tb=tb,terabyte,terabytes ghz=ghz mhz=mhz hz=hz w=w,watt,watts kw=kw kwh=kwh v=volt,volts mah=mah ' +
    'second=s,sec,secs,seconds minute=min,mins,minute,minutes hour=h,hr,hrs,hour,hours day=d,day,days week=wk,wks,week,weeks month=mo,mos,month,months year=y,yr,yrs,year,years decade=decade,decades',
);
/** Words and symbols before a number that give its currency: $10, Rs 500. */
const CURRENCY_BEFORE = unitTable('usd=$,usd,us$ eur=€,eur gbp=£,gbp jpy=¥ inr=₹,rs,inr cny=rmb,cny');
const AM = new Set(['am', 'a.m']);
const PM = new Set(['pm', 'p.m']);
const ORDINAL_SUFFIX = new Set(['st', 'nd', 'rd', 'th']);

/** Chinese numerals. 两/俩 are 2; 几 (several) is not a number. */
const CN_DIGITS: Record<string, number> = {
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
const CN_SCALES: Record<string, number> = { 十: 10, 百: 100, 千: 1000, 万: 10000, 亿: 100000000 };
/** Units after a Chinese or Arabic numeral, longest first where one is a prefix of another. */
const CN_UNITS: ReadonlyArray<readonly [string, string]> = [
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
const CN_AM = new Set(['上午', '早上', '早晨', '凌晨', '清晨']);
const CN_PM = new Set(['下午', '晚上', '傍晚', '夜里', '夜晚']);

/** "without" is not here: it mostly paraphrases "no X" / "non-X" rather than negating the question. */
const NEGATIONS = new Set(
  "not no never none nothing nobody neither nor cannot can't don't doesn't didn't isn't aren't wasn't weren't won't wouldn't shouldn't couldn't haven't hasn't 不 没 无 非 别 未 勿".split(
    ' ',
  ),
);

/**
 * Chinese words that contain a negation character but do not negate: 非常 (very), 区别
 * (difference), 未来 (future) ...; and A-not-A questions (能不能, 有没有) are not negations either.
 */
const NOT_NEGATIONS = new Set(
  '非常 除非 无论 无线 无人 无聊 无数 不过 不错 不少 不仅 不断 不同 不久 不管 别人 别的 特别 区别 分别 级别 类别 识别 告别 差别 性别 个别 未来 没准'.split(
    ' ',
  ),
);

function negatedCjk(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    if (!NEGATIONS.has(text[i]!)) continue;
    if (NOT_NEGATIONS.has(text.slice(i, i + 2)) || NOT_NEGATIONS.has(text.slice(i - 1, i + 1))) continue;
    // 能不能, 是不是, 有没有: a question, not a negation.
    if (i > 0 && text[i - 1] === text[i + 1]) continue;
    return true;
  }
  return false;
}

/** Pairs of words that turn a question into its opposite. Single words match whole tokens (any inflection); CJK pairs match substrings. */
const OPPOSITES: ReadonlyArray<readonly [string, string]> = [
  ['install', 'uninstall'],
  ['enable', 'disable'],
  ['add', 'remove'],
  ['increase', 'decrease'],
  ['upload', 'download'],
  ['encrypt', 'decrypt'],
  ['import', 'export'],
  ['start', 'stop'],
  ['open', 'close'],
  ['buy', 'sell'],
  ['before', 'after'],
  ['more', 'less'],
  ['max', 'min'],
  ['maximum', 'minimum'],
  ['high', 'low'],
  ['higher', 'lower'],
  ['largest', 'smallest'],
  ['biggest', 'smallest'],
  ['best', 'worst'],
  ['first', 'last'],
  ['lock', 'unlock'],
  ['subscribe', 'unsubscribe'],
  ['connect', 'disconnect'],
  ['mount', 'unmount'],
  ['encode', 'decode'],
  ['compress', 'decompress'],
  ['push', 'pull'],
  ['send', 'receive'],
  ['win', 'lose'],
  ['gain', 'lose'],
  ['hot', 'cold'],
  ['fast', 'slow'],
  ['cheap', 'expensive'],
  ['male', 'female'],
  ['men', 'women'],
  ['boy', 'girl'],
  ['husband', 'wife'],
  ['north', 'south'],
  ['east', 'west'],
  ['left', 'right'],
  ['up', 'down'],
  ['in', 'out'],
  ['on', 'off'],
  ['yes', 'no'],
  ['true', 'false'],
  ['pros', 'cons'],
  ['advantage', 'disadvantage'],
  ['legal', 'illegal'],
  ['safe', 'unsafe'],
  ['healthy', 'unhealthy'],
  ['like', 'dislike'],
  ['love', 'hate'],
  ['agree', 'disagree'],
  ['accept', 'reject'],
  ['allow', 'deny'],
  ['create', 'delete'],
  ['join', 'leave'],
  ['upgrade', 'downgrade'],
  ['activate', 'deactivate'],
  ['block', 'unblock'],
  ['follow', 'unfollow'],
  ['mute', 'unmute'],
  ['freeze', 'unfreeze'],
  ['archive', 'unarchive'],
  ['zip', 'unzip'],
  ['credit', 'debit'],
  ['public', 'private'],
  ['online', 'offline'],
  ['input', 'output'],
  ['inbound', 'outbound'],
  ['ascending', 'descending'],
  ['horizontal', 'vertical'],
  ['uppercase', 'lowercase'],
  ['deposit', 'withdraw'],
  ['安装', '卸载'],
  ['打开', '关闭'],
  ['开启', '关闭'],
  ['启用', '禁用'],
  ['增加', '减少'],
  ['上传', '下载'],
  ['加密', '解密'],
  ['导入', '导出'],
  ['登录', '退出'],
  ['买', '卖'],
  ['最大', '最小'],
  ['最高', '最低'],
  ['之前', '之后'],
  ['添加', '删除'],
  ['升级', '降级'],
  ['冻结', '解冻'],
  ['绑定', '解绑'],
  ['充值', '提现'],
  ['存款', '取款'],
  ['收入', '支出'],
  ['上涨', '下跌'],
  ['升序', '降序'],
  ['在线', '离线'],
  ['横屏', '竖屏'],
];

/** Pair word -> the sides (pair index * 2 + 0 | 1) of the Latin opposite pairs it belongs to. */
const OPPOSITE_SIDES = new Map<string, number[]>();
/** CJK opposite pairs, matched as substrings. */
const CJK_OPPOSITES: Array<readonly [string, string]> = [];
OPPOSITES.forEach(([a, b], i) => {
  if (/[^ -~]/.test(a)) {
    CJK_OPPOSITES.push([a, b]);
    return;
  }
  for (const [word, side] of [
    [a, 0],
    [b, 1],
  ] as const) {
    const sides = OPPOSITE_SIDES.get(word) ?? [];
    sides.push(i * 2 + side);
    OPPOSITE_SIDES.set(word, sides);
  }
});
const INFLECTION = /^(.{2,}?)(ing|ed|(?<=ch|sh|x|ss|z)es|(?<![su])s)$/;

/** The opposite-pair sides of a word or of its base form: added, adding, adds -> add; removed -> remove; stopped -> stop. */
function oppositeSides(word: string): number[] | undefined {
  const exact = OPPOSITE_SIDES.get(word);
  if (exact) return exact;
  const m = INFLECTION.exec(word);
  if (!m) return undefined;
  const base = m[1]!;
  const verb = m[2] === 'ing' || m[2] === 'ed';
  return (
    OPPOSITE_SIDES.get(base) ??
    (verb ? OPPOSITE_SIDES.get(`${base}e`) : undefined) ??
    (verb && base.length > 2 && base.at(-1) === base.at(-2)
      ? OPPOSITE_SIDES.get(base.slice(0, -1))
      : undefined)
  );
}

const RELATIONS = new Set([
  'to',
  'into',
  'from',
  'than',
  'vs',
  'versus',
  'per',
  'over',
  '转',
  '换成',
  '到',
  '比',
]);

/**
 * Closed classes whose members exclude each other: "class=canonical:word,word ...". A word or a
 * two-word phrase (mac os) maps to its class and canonical member. A leading "^" on a word:
 * counted only when capitalized inside a sentence ("Go", "Swift", "May"), or, for plan tiers,
 * also right before a plan noun ("free plan", "business account").
 */
const ENTITY_SPEC = [
  'lang=python:python,py java:java javascript:javascript,js,ecmascript typescript:typescript,ts cpp:c++,cpp csharp:c#,csharp fsharp:f# c:^c go:^go,golang rust:^rust ruby:^ruby php:php swift:^swift kotlin:kotlin scala:scala perl:perl haskell:haskell elixir:elixir erlang:erlang clojure:clojure dart:^dart lua:lua matlab:matlab julia:^julia r:^r objc:objective_c,objc fortran:fortran cobol:cobol vb:vba,vb.net solidity:solidity zig:^zig',
  'os=windows:windows,win10,win11 macos:macos,osx,mac_os,os_x linux:linux ubuntu:ubuntu debian:debian fedora:fedora centos:centos rhel:rhel,redhat,red_hat arch:^arch android:android ios:ios ipados:ipados chromeos:chromeos,chrome_os freebsd:freebsd harmonyos:harmonyos wsl:wsl',
  'device=mac:mac,macbook,imac,mac_mini iphone:iphone ipad:ipad pc:pc laptop:laptop,notebook desktop:desktop tablet:tablet kindle:kindle chromebook:chromebook xbox:xbox playstation:playstation,ps4,ps5 switch:^switch apple-watch:apple_watch',
  'browser=chrome:chrome firefox:firefox safari:safari edge:^edge opera:^opera brave:^brave ie:internet_explorer',
  'cloud=aws:aws,amazon_web_services azure:azure gcp:gcp,google_cloud heroku:heroku digitalocean:digitalocean vercel:vercel netlify:netlify cloudflare:cloudflare alibaba-cloud:aliyun',
  'database=mysql:mysql postgres:postgres,postgresql sqlite:sqlite mongodb:mongodb,mongo redis:redis mariadb:mariadb oracle:^oracle mssql:mssql,sql_server cassandra:cassandra dynamodb:dynamodb elasticsearch:elasticsearch firebase:firebase supabase:supabase snowflake:^snowflake bigquery:bigquery',
  'framework=react:react vue:vue angular:angular svelte:svelte django:django flask:flask fastapi:fastapi rails:rails laravel:laravel spring:^spring express:^express nextjs:nextjs,next.js nuxt:nuxt jquery:jquery pytorch:pytorch tensorflow:tensorflow keras:keras',
  'runtime=node:node,nodejs,node.js deno:deno bun:^bun',
  'tier=free:^free basic:^basic starter:^starter standard:^standard plus:^plus pro:pro,professional premium:premium business:^business team:^team,^teams enterprise:enterprise personal:^personal family:^family student:^student ultimate:^ultimate lite:^lite gold:^gold silver:^silver platinum:^platinum bronze:^bronze',
  'period=hour:hourly,per_hour,an_hour,every_hour day:daily,per_day,a_day,every_day,each_day week:weekly,per_week,a_week,every_week,each_week month:monthly,per_month,a_month,every_month,each_month year:yearly,annual,annually,per_year,a_year,every_year,each_year,per_annum quarter:quarterly,per_quarter',
  'weekday=mon:monday,mondays tue:tuesday,tuesdays wed:wednesday,wednesdays thu:thursday,thursdays fri:friday,fridays sat:saturday,saturdays sun:sunday,sundays',
  'month=jan:january feb:february mar:^march apr:april may:^may jun:june jul:july aug:august sep:september oct:october nov:november dec:december',
  'colour=red:red orange:^orange yellow:yellow green:green blue:blue purple:purple,violet pink:pink black:black white:white grey:grey,gray brown:brown',
  'place=us:^us,usa,u.s,u.s.a,america,american,americans,united_states uk:uk,britain,british,united_kingdom,england,english china:china,chinese india:india,indian,indians japan:japan,japanese korea:korea,korean germany:germany,german france:france,french canada:canada,canadian australia:australia,australian russia:russia,russian brazil:brazil,brazilian mexico:mexico,mexican italy:italy,italian spain:spain,spanish singapore:singapore pakistan:pakistan,pakistani dubai:dubai uae:uae indonesia:indonesia vietnam:vietnam thailand:thailand philippines:philippines,filipino turkey:^turkey egypt:egypt nigeria:nigeria ireland:ireland,irish netherlands:netherlands,dutch sweden:sweden,swedish switzerland:switzerland,swiss israel:israel',
  'currency=usd:dollar,dollars,usd eur:euro,euros,eur gbp:gbp,sterling jpy:yen,jpy cny:yuan,rmb,cny,renminbi inr:rupee,rupees,inr cad:canadian_dollar,canadian_dollars,cad aud:australian_dollar,australian_dollars,aud btc:bitcoin,btc eth:ethereum,eth',
  'length=km:km,kms,kilometer,kilometers,kilometre,kilometres mile:mile,miles meter:meter,meters,metre,metres ft:feet,foot,ft inch:inch,inches cm:cm,centimeter,centimeters,centimetres yard:yard,yards',
  'weight=kg:kg,kgs,kilogram,kilograms lb:lb,lbs gram:gram,grams oz:ounce,ounces,oz ton:tonne,tonnes',
  'temperature=celsius:celsius,centigrade fahrenheit:fahrenheit kelvin:kelvin',
  'data=kb:kb,kilobyte,kilobytes mb:mb,megabyte,megabytes gb:gb,gigabyte,gigabytes tb:tb,terabyte,terabytes',
  'brand=apple:^apple google:google microsoft:microsoft amazon:amazon facebook:facebook meta:^meta netflix:netflix spotify:spotify uber:uber lyft:lyft airbnb:airbnb tesla:tesla samsung:samsung huawei:huawei xiaomi:xiaomi oneplus:oneplus sony:sony nokia:nokia intel:intel amd:amd nvidia:nvidia ibm:ibm twitter:twitter instagram:instagram whatsapp:whatsapp telegram:telegram snapchat:snapchat tiktok:tiktok youtube:youtube linkedin:linkedin reddit:reddit wechat:wechat slack:slack zoom:^zoom discord:discord github:github gitlab:gitlab bitbucket:bitbucket openai:openai anthropic:anthropic',
  'payment=visa:^visa mastercard:mastercard amex:amex,american_express paypal:paypal venmo:venmo zelle:zelle apple-pay:apple_pay google-pay:google_pay alipay:alipay credit-card:credit_card debit-card:debit_card cash:^cash',
  'after-sale=refund:refund,refunds,refunded,refunding,return,returns,returned exchange:exchange,exchanges,exchanged,replacement,replace',
  'model=gpt:gpt,chatgpt claude:claude gemini:^gemini llama:^llama mistral:^mistral',
];
/** Chinese members, matched as substrings of the question (no spaces, no capitals). */
const CJK_ENTITY_SPEC = [
  'tier=free:免费版,免费套餐 basic:基础版,基本版 standard:标准版 pro:专业版 premium:高级版,尊享版 business:商业版,商务版 team:团队版 enterprise:企业版 personal:个人版 family:家庭版 student:学生版 flagship:旗舰版',
  'period=day:每天,每日,按天,日付 week:每周,每星期,按周,周付 month:每月,每个月,按月,月付,包月,月费,月度 year:每年,按年,年付,包年,年费,年度 quarter:每季,季度',
  'weekday=mon:周一,星期一,礼拜一 tue:周二,星期二,礼拜二 wed:周三,星期三,礼拜三 thu:周四,星期四,礼拜四 fri:周五,星期五,礼拜五 sat:周六,星期六,礼拜六 sun:周日,周天,星期日,星期天,礼拜日,礼拜天',
  'colour=red:红色 orange:橙色,橘色 yellow:黄色 green:绿色 blue:蓝色 purple:紫色 pink:粉色,粉红色 black:黑色 white:白色 grey:灰色 brown:棕色,咖啡色 gold:金色 silver:银色',
  'place=china:中国,中文,汉语 us:美国 japan:日本,日语,日文 korea:韩国,韩语 uk:英国,英语,英文 france:法国,法语 germany:德国,德语 russia:俄罗斯,俄语 india:印度 canada:加拿大 australia:澳大利亚,澳洲 singapore:新加坡 hongkong:香港 taiwan:台湾 beijing:北京 shanghai:上海 guangzhou:广州 shenzhen:深圳 hangzhou:杭州 chengdu:成都 nanjing:南京 wuhan:武汉 xian:西安 chongqing:重庆 tianjin:天津 suzhou:苏州',
  'currency=usd:美元,美金 eur:欧元 jpy:日元 gbp:英镑 hkd:港币,港元 cny:人民币',
  'os=android:安卓 harmonyos:鸿蒙 windows:视窗',
  'device=phone:手机 computer:电脑 tablet:平板 laptop:笔记本',
  'brand=wechat:微信 alipay:支付宝 taobao:淘宝 jd:京东 pinduoduo:拼多多 douyin:抖音 weibo:微博 baidu:百度 tencent:腾讯 alibaba:阿里巴巴 huawei:华为 xiaomi:小米',
  'payment=credit-card:信用卡 debit-card:借记卡,储蓄卡 cash:现金 unionpay:银联',
  'after-sale=refund:退款,退货,退钱 exchange:换货,调换',
];

interface Entity {
  cls: string;
  canon: string;
  /** Counted only when capitalized inside a sentence (or, for tiers, before a plan noun). */
  ambiguous: boolean;
}

function entityTable(specs: string[]): Map<string, Entity> {
  const out = new Map<string, Entity>();
  for (const spec of specs) {
    const [cls, members] = spec.split('=') as [string, string];
    for (const member of members.split(' ')) {
      const [canon, words] = member.split(':') as [string, string];
      for (const raw of words.split(',')) {
        const ambiguous = raw.startsWith('^');
        out.set((ambiguous ? raw.slice(1) : raw).replaceAll('_', ' '), { cls, canon, ambiguous });
      }
    }
  }
  return out;
}
const ENTITIES = entityTable(ENTITY_SPEC);
const CJK_ENTITIES = [...entityTable(CJK_ENTITY_SPEC)];
const PLAN_NOUNS = new Set(
  'plan plans tier tiers edition editions version versions account accounts subscription subscriptions license licence membership package level seat seats user users member members customer customers option 版'.split(
    ' ',
  ),
);
/** Words that carry no difference between two questions, beyond text.ts's stopwords. */
const FILLER = new Set(
  "what's how's where's who's it's i'm i've i'd i'll can't don't kindly possible actually really exactly anyone someone somebody anybody".split(
    ' ',
  ),
);

// ---------------------------------------------------------------------------------------------
// Tokens (case kept) for quantities and entities

const NUM = 0;
const WORD = 1;
const CJK_CHAR = 2;
const SYM = 3;

interface Tok {
  kind: number;
  /** Lower case. */
  text: string;
  start: number;
  end: number;
  /** Starts with a capital and is not the first word of a sentence. */
  name: boolean;
  /** First word of a sentence. */
  initial: boolean;
}

const CJK_RANGES = '\\u3040-\\u30ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\uac00-\\ud7af\\uf900-\\ufaff';
/** Letters of a word: any script but CJK, whose characters are tokens of their own. */
const LETTER = `[^\\P{L}${CJK_RANGES}]`;
/** Numbers (3, 3.11, 21:00), CJK characters, words (don't, a.m, c++, c#), signs (^ of an exponent too). */
const TOKEN = new RegExp(
  `(\\d+(?:[.:]\\d+)*)|([${CJK_RANGES}])|(${LETTER}(?:${LETTER}|\\p{M}|['’.](?=${LETTER}))*(?:\\+\\+|#)?)|([$€£¥₹%°+\\-−^])`,
  'gu',
);
const SENTENCE_BREAK = /[.?!;:\n"“”()[\]|。？！；：]/;
const UPPER = /\p{Lu}/u;
const THOUSANDS = /(\d),(?=\d{3}(?!\d))/g;
const TRAILING_ZERO = /\.0+$/;
const CLOCK = /^(\d{1,2})(?::(\d{2}))?$/;
/** List markers ("1)", "2.") number the parts of a text, not what it asks about. */
const LIST_MARKER = /(^|\s)\(?\d{1,2}[).](?=\s)/g;

function lex(prompt: string): { s: string; toks: Tok[] } {
  // Never NFKC: it read 10² as 102 and 2³ as 23. Superscripts, subscripts, fractions and enclosed
  // numbers are spelled out instead (10^2, H_2O, 1/2, (1)), an exponent being a value of its own.
  const s = spellCompatibility(foldCompatibility(withoutInvisible(prompt)))
    .replace(LIST_MARKER, '$1')
    .replace(THOUSANDS, '$1');
  const toks: Tok[] = [];
  let initial = true;
  let last = 0;
  let words = 0;
  let capitalized = 0;
  TOKEN.lastIndex = 0;
  for (let m = TOKEN.exec(s); m; m = TOKEN.exec(s)) {
    for (let i = last; i < m.index; i++) {
      if (SENTENCE_BREAK.test(s[i]!)) {
        initial = true;
        break;
      }
    }
    const text = m[0];
    const kind = m[1] ? NUM : m[2] ? CJK_CHAR : m[3] ? WORD : SYM;
    const cap = kind === WORD && UPPER.test(text[0]!);
    if (kind === WORD && !initial && text !== 'I' && !text.startsWith("I'")) {
      words++;
      if (cap) capitalized++;
    }
    toks.push({
      kind,
      text: kind === WORD ? text.toLowerCase().replace('’', "'") : text,
      start: m.index,
      end: m.index + text.length,
      name: cap && !initial && text !== 'I' && !text.startsWith("I'"),
      initial: initial && kind !== SYM,
    });
    if (kind !== SYM) initial = kind === CJK_CHAR && SENTENCE_BREAK.test(text);
    last = m.index + text.length;
  }
  // Title Case Questions Capitalize Every Word: no capital marks a name there.
  if (words >= 3 && capitalized * 2 > words) for (const t of toks) t.name = false;
  return { s, toks };
}

// ---------------------------------------------------------------------------------------------
// Quantities

interface Quantities {
  /** Values other than 1, ordinals included ("2nd" / "2"), sorted. */
  values: string[];
  /** Value -> the units given to it. */
  units: Map<string, Set<string>>;
  /** Ordinals, sorted. */
  ordinals: string[];
  /** Every unit named anywhere, with a number or not. */
  mentioned: Set<string>;
}

function canonicalNumber(n: number): string {
  return Number.isInteger(n) ? String(n) : String(Number(n.toFixed(6)));
}

/** What follows a number at token j: a unit, a percent sign, an ordinal suffix, am/pm, a CJK unit. */
function suffixOf(
  s: string,
  toks: Tok[],
  j: number,
  valueEnd: number,
): { unit?: string; percent?: boolean; ordinal?: boolean; ampm?: 'am' | 'pm'; clock?: boolean } {
  const next = toks[j];
  if (!next) return {};
  const attached = next.start === valueEnd;
  const near = next.start - valueEnd <= 1;
  if (next.kind === SYM) {
    if (next.text === '%' && near) return { percent: true };
    if (next.text === '°' && near) {
      const scale = toks[j + 1];
      if (scale?.kind === WORD && (scale.text === 'c' || scale.text === 'celsius')) return { unit: 'c' };
      if (scale?.kind === WORD && (scale.text === 'f' || scale.text === 'fahrenheit')) return { unit: 'f' };
      return { unit: 'degree' };
    }
    return {};
  }
  if (next.kind === WORD && near) {
    const w = next.text;
    if (attached && ORDINAL_SUFFIX.has(w)) return { ordinal: true };
    if (w === 'percent' || w === 'pct') return { percent: true };
    if (AM.has(w)) return { ampm: 'am' };
    if (PM.has(w)) return { ampm: 'pm' };
    if (w === "o'clock") return { clock: true };
    const unit = UNITS.get(w);
    if (unit && (attached || w.length > 1)) return { unit };
    return {};
  }
  if (next.kind === CJK_CHAR && attached) {
    if (next.text === '点' || next.text === '时') {
      // 9点 is nine o'clock; 三点五 is 3.5 (then no unit).
      const after = s[next.start + 1] ?? '';
      const decimal = CN_DIGITS[after] !== undefined || after === '十' || (after >= '0' && after <= '9');
      return decimal ? {} : { clock: true };
    }
    for (const [word, unit] of CN_UNITS) if (s.startsWith(word, next.start)) return { unit };
  }
  return {};
}

/** The value of a run of Chinese numerals, or undefined when it is not a number (百度, 千万, 万一 ...). */
function chineseNumber(run: string): number | undefined {
  let i = 0;
  while (i < run.length && run[i] !== '十' && CN_SCALES[run[i]!] !== undefined) i++;
  const r = run.slice(i);
  if (!r) return undefined;
  if (![...r].some((ch) => CN_SCALES[ch] !== undefined)) {
    // 二〇二四 (a year) reads digit by digit; 三四 (three or four) does too, harmlessly.
    return r.length === 1 ? CN_DIGITS[r]! : Number([...r].map((ch) => CN_DIGITS[ch]).join(''));
  }
  let total = 0;
  let section = 0;
  let digit = -1;
  for (const ch of r) {
    const d = CN_DIGITS[ch];
    if (d !== undefined) {
      digit = d;
      continue;
    }
    const scale = CN_SCALES[ch]!;
    if (scale >= 10000) {
      total = (total + section + Math.max(digit, 0)) * scale;
      section = 0;
    } else section += (digit < 0 ? 1 : digit) * scale;
    digit = -1;
  }
  return total + section + Math.max(digit, 0);
}

function quantitiesOf(s: string, toks: Tok[]): Quantities {
  const values = new Set<string>();
  const units = new Map<string, Set<string>>();
  const ordinals = new Set<string>();
  const record = (value: number | string, start: number, end: number, j: number, ordinal: boolean) => {
    let v = typeof value === 'number' ? value : Number(value);
    let text = typeof value === 'number' ? canonicalNumber(value) : value.replace(TRAILING_ZERO, '');
    // Scales: 5 million, 3万.
    let scaleAt = j;
    const scale = toks[scaleAt];
    if (scale && !ordinal && scale.start - end <= 1) {
      const factor =
        scale.kind === WORD
          ? SCALES.get(scale.text)
          : scale.kind === CJK_CHAR && (scale.text === '万' || scale.text === '亿')
            ? CN_SCALES[scale.text]
            : undefined;
      if (factor && Number.isFinite(v)) {
        v *= factor;
        text = canonicalNumber(v);
        end = scale.end;
        scaleAt++;
      }
    }
    const suffix = ordinal ? {} : suffixOf(s, toks, scaleAt, end);
    if (ordinal || suffix.ordinal) {
      ordinals.add(text);
      if (text !== '1') values.add(text);
      return;
    }
    let unit = suffix.unit;
    // A currency before the number: $10, Rs 500.
    const before = toks[toksIndexBefore(toks, start)];
    if (before && start - before.end <= 1) {
      const currency = CURRENCY_BEFORE.get(before.text);
      if (currency) unit = currency;
      else if (before.text === '^' && before.end === start)
        text = `^${text}`; // 10^2, 10²: an exponent
      else if (before.text === '-' || before.text === '−') {
        // A sign, not a hyphen: "-5", not "3-5" or "COVID-19".
        const prior = toks[toksIndexBefore(toks, before.start)];
        if (before.end === start && (!prior || prior.end < before.start)) text = `-${text}`;
      }
    }
    if (suffix.percent) text = `${text}%`;
    // Times on a 24-hour clock: 9pm, 下午9点 and 21:00 are all 21.
    const clock = CLOCK.exec(text);
    if (clock && (suffix.ampm || suffix.clock || clock[2] !== undefined)) {
      let hour = Number(clock[1]);
      const minutes = clock[2] && clock[2] !== '00' ? `:${clock[2]}` : '';
      const prefix = s.slice(Math.max(0, start - 2), start);
      const pm = suffix.ampm === 'pm' || (suffix.clock && CN_PM.has(prefix));
      const am = suffix.ampm === 'am' || (suffix.clock && CN_AM.has(prefix));
      if (hour <= 24 && (!suffix.ampm || hour <= 12)) {
        if (pm && hour < 12) hour += 12;
        else if (am && hour === 12) hour = 0;
        else if (suffix.clock && prefix === '中午' && hour < 6) hour += 12;
        text = `${hour}${minutes}`;
        unit = 'time';
      }
    }
    if (text !== '1') values.add(text);
    if (unit) {
      const set = units.get(text) ?? new Set<string>();
      set.add(unit);
      units.set(text, set);
    }
  };

  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind === NUM) {
      const prev = toks[i - 1];
      const ordinal = prev?.kind === CJK_CHAR && prev.text === '第' && prev.end === t.start;
      record(t.text, t.start, t.end, i + 1, ordinal);
    } else if (t.kind === WORD) {
      const prev = toks[i - 1];
      const j = i + 1;
      const end = t.end;
      // twenty-one, twenty one, twenty-first
      const tens = CARDINALS.get(t.text);
      if (tens !== undefined && tens >= 20 && tens % 10 === 0) {
        const hyphen = toks[j]?.text === '-' && toks[j]!.start === end ? 1 : 0;
        const unitWord = toks[j + hyphen];
        const u =
          unitWord?.kind === WORD ? (CARDINALS.get(unitWord.text) ?? ORDINALS.get(unitWord.text)) : undefined;
        if (u !== undefined && u < 10 && unitWord!.start - end <= 1) {
          const isOrdinal = ORDINALS.has(unitWord!.text);
          record(tens + u, t.start, unitWord!.end, j + hyphen + 1, isOrdinal);
          i = j + hyphen;
          continue;
        }
      }
      const cardinal = CARDINALS.get(t.text);
      if (cardinal !== undefined) {
        record(cardinal, t.start, end, j, false);
        continue;
      }
      // "a dozen", "a hundred", "a million"
      if ((t.text === 'a' || t.text === 'an') && toks[j]?.kind === WORD && SCALES.has(toks[j]!.text)) {
        record(1, t.start, end, j, false);
        i = j;
        continue;
      }
      const ordinal = ORDINALS.get(t.text);
      if (ordinal !== undefined) {
        if (
          t.text === 'second' &&
          (NOT_ORDINAL_BEFORE.has(prev?.text ?? '') || NOT_ORDINAL_AFTER.has(toks[j]?.text ?? ''))
        )
          continue;
        record(ordinal, t.start, end, j, true);
      }
    } else if (t.kind === CJK_CHAR && (CN_DIGITS[t.text] !== undefined || CN_SCALES[t.text] !== undefined)) {
      let j = i;
      let run = '';
      while (
        j < toks.length &&
        toks[j]!.kind === CJK_CHAR &&
        (CN_DIGITS[toks[j]!.text] !== undefined || CN_SCALES[toks[j]!.text] !== undefined)
      ) {
        run += toks[j]!.text;
        j++;
      }
      const last = toks[j - 1]!;
      i = j - 1;
      const prev = toks[toksIndexBefore(toks, t.start)];
      const ordinal = prev?.kind === CJK_CHAR && prev.text === '第';
      // 十分 (very) is not ten minutes; 十分钟 is.
      if (run === '十' && s.startsWith('分', last.end) && !s.startsWith('分钟', last.end)) continue;
      const value = chineseNumber(run);
      if (value === undefined) continue;
      if (t.start >= 3 && s.startsWith('百分之', t.start - 3)) {
        values.add(`${value}%`);
        continue;
      }
      record(value, t.start, last.end, j, ordinal);
    }
  }
  const mentioned = new Set<string>();
  for (const t of toks) {
    const unit = t.kind === WORD && t.text.length > 1 ? UNITS.get(t.text) : undefined;
    const currency = CURRENCY_BEFORE.get(t.text);
    if (unit) mentioned.add(unit);
    if (currency) mentioned.add(currency);
  }
  for (const set of units.values()) for (const u of set) mentioned.add(u);
  return {
    values: [...values].sort(),
    units,
    ordinals: [...ordinals].sort(),
    mentioned,
  };
}

/** Index of the token that ends at or before `offset` (the one before a token starting there). */
function toksIndexBefore(toks: Tok[], offset: number): number {
  let lo = 0;
  let hi = toks.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (toks[mid]!.end <= offset) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found;
}

/**
 * Ordinals count as values (so "11th class" / "class 11" and "2nd world war" / "world war 2"
 * pass, "second largest" / "largest" does not); when both questions have ordinals, they must
 * be the same ("first" / "second", 第一次 / 第二次).
 */
function ordinalsDiffer(q: Quantities, c: Quantities): boolean {
  return q.ordinals.length > 0 && c.ordinals.length > 0 && !sameList(q.ordinals, c.ordinals);
}

/**
 * A value with one unit here and another there (5 km / 5 miles), where neither question names
 * the other's unit at all: "5 miles to km" / "5 km to miles" is left to the direction guard.
 */
function unitsDiffer(q: Quantities, c: Quantities): boolean {
  for (const [value, qUnits] of q.units) {
    const cUnits = c.units.get(value);
    if (!cUnits) continue;
    for (const u of qUnits) if (!cUnits.has(u) && !c.mentioned.has(u)) return true;
    for (const u of cUnits) if (!qUnits.has(u) && !q.mentioned.has(u)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------
// Entities

interface Entities {
  /** Class -> canonical members named. */
  classes: Map<string, Set<string>>;
  /** Content words (stems, or "=canonical" for a lexicon entry). */
  content: Set<string>;
  /** The content words written as names (capitalized inside a sentence). */
  names: Set<string>;
}

function entitiesOf(s: string, toks: Tok[], hasCjk: boolean): Entities {
  const classes = new Map<string, Set<string>>();
  const content = new Set<string>();
  const names = new Set<string>();
  const add = (e: Entity) => {
    const set = classes.get(e.cls) ?? new Set<string>();
    set.add(e.canon);
    classes.set(e.cls, set);
  };
  for (let i = 0; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.kind !== WORD) {
      const currency = t.kind === SYM ? CURRENCY_BEFORE.get(t.text) : undefined;
      if (currency) add({ cls: 'currency', canon: currency, ambiguous: false });
      continue;
    }
    const next = toks[i + 1];
    let entity: Entity | undefined;
    let span = 1;
    if (next?.kind === WORD) {
      entity = ENTITIES.get(`${t.text} ${next.text}`);
      if (entity) span = 2;
    }
    entity ??=
      ENTITIES.get(t.text) ?? (t.text.endsWith("'s") ? ENTITIES.get(t.text.slice(0, -2)) : undefined);
    const isName = t.name || (span === 2 && next!.name);
    if (entity?.ambiguous) {
      const after = toks[i + span];
      const planNoun = entity.cls === 'tier' && after !== undefined && PLAN_NOUNS.has(after.text);
      if (!isName && !planNoun) entity = undefined;
    }
    if (entity) {
      add(entity);
      const key = `=${entity.canon}`;
      content.add(key);
      if (isName) names.add(key);
      i += span - 1;
      continue;
    }
    if (STOPWORDS.has(t.text) || FILLER.has(t.text) || NEGATIONS.has(t.text)) continue;
    // M.S. / MS, U.N. / UN
    const w = stem(t.text.includes('.') ? t.text.replaceAll('.', '') : t.text);
    if (STOPWORDS.has(w)) continue;
    content.add(w);
    if (t.name) names.add(w);
  }
  if (hasCjk) for (const [word, e] of CJK_ENTITIES) if (s.includes(word)) add(e);
  return { classes, content, names };
}

/**
 * A name and another that share a stem ("India" / "Indian", "Japan" / "Japanese") or are one
 * typo apart ("Senstor" / "Senator") are alike.
 */
function related(a: string, b: string): boolean {
  const x = a.replace('=', '');
  const y = b.replace('=', '');
  if (x.startsWith(y) || y.startsWith(x)) return true;
  if (x.length >= 4 && y.length >= 4 && x.slice(0, 4) === y.slice(0, 4)) return true;
  return x.length >= 5 && y.length >= 5 && oneEditApart(x, y);
}

/** One substitution, insertion, deletion or swap of neighbours turns a into b. */
function oneEditApart(a: string, b: string): boolean {
  if (Math.abs(a.length - b.length) > 1) return false;
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  let j = 0;
  while (j < a.length - i && j < b.length - i && a[a.length - 1 - j] === b[b.length - 1 - j]) j++;
  const restA = a.length - i - j;
  const restB = b.length - i - j;
  if (restA <= 1 && restB <= 1) return true;
  return restA === 2 && restB === 2 && a[i] === b[i + 1] && a[i + 1] === b[i];
}

function differingNames(q: Entities, c: Entities): boolean {
  const onlyQ: string[] = [];
  const onlyC: string[] = [];
  for (const w of q.content) if (!c.content.has(w)) onlyQ.push(w);
  if (onlyQ.length === 0 || onlyQ.length > 2) return false;
  for (const w of c.content) if (!q.content.has(w)) onlyC.push(w);
  if (onlyC.length === 0 || onlyC.length > 2) return false;
  // "VS" / "Visual Studio", "UP" / "Uttar Pradesh": an initialism of the other side's names.
  if (initialism(onlyQ, onlyC, c.names) || initialism(onlyC, onlyQ, q.names)) return false;
  for (const x of onlyQ) {
    if (!q.names.has(x)) continue;
    for (const y of onlyC) if (c.names.has(y) && !related(x, y)) return true;
  }
  return false;
}

function initialism(short: string[], long: string[], names: Set<string>): boolean {
  let initials = '';
  for (const w of long) if (names.has(w)) initials += w[0] === '=' ? w[1] : w[0];
  return initials.length >= 2 && short.includes(initials);
}

function entitiesDiffer(q: Entities, c: Entities): boolean {
  for (const [cls, qs] of q.classes) {
    const cs = c.classes.get(cls);
    if (!cs) continue;
    let qOnly = false;
    for (const x of qs) if (!cs.has(x)) qOnly = true;
    if (!qOnly) continue;
    for (const y of cs) if (!qs.has(y)) return true;
  }
  return differingNames(q, c);
}

// ---------------------------------------------------------------------------------------------
// Profiles

interface Profile {
  words: string[];
  text: string;
  cjk: boolean;
  quantities: Quantities;
  negated: boolean;
  /** Sides of Latin opposite pairs present (pair index * 2 + side). */
  opposites: Set<number>;
  /** Relation word -> the next content word after it. */
  relations: Map<string, Set<string>>;
  entities: Entities;
  /** Emoji and operators, sorted (symbolsOf). */
  symbols: string[];
}

const PROFILES = new Map<string, Profile>();
const PROFILE_CACHE = 512;

function profileOf(prompt: string): Profile {
  const cached = PROFILES.get(prompt);
  if (cached) {
    PROFILES.delete(prompt);
    PROFILES.set(prompt, cached);
    return cached;
  }
  const p = profile(prompt);
  PROFILES.set(prompt, p);
  if (PROFILES.size > PROFILE_CACHE) PROFILES.delete(PROFILES.keys().next().value!);
  return p;
}

function profile(prompt: string): Profile {
  const tokens = tokenize(prompt.replace(LIST_MARKER, '$1'));
  const words = tokens.map((t) => t.text);
  const cjk = tokens.some((t) => t.cjk);
  const { s, toks } = lex(prompt);
  let negated = false;
  const opposites = new Set<number>();
  for (const t of tokens) {
    if (t.cjk) continue;
    if (NEGATIONS.has(t.text) || t.text.endsWith("n't")) negated = true;
    const sides = oppositeSides(t.text);
    if (sides) for (const side of sides) opposites.add(side);
  }
  const text = words.join(cjk ? '' : ' ');
  if (cjk && negatedCjk(text)) negated = true;
  return {
    words,
    text,
    cjk,
    quantities: quantitiesOf(s, toks),
    negated,
    opposites,
    relations: relationsOf(words),
    entities: entitiesOf(s, toks, cjk),
    symbols: symbolsOf(prompt),
  };
}

const ARTICLES = new Set(['the', 'a', 'an', 'my', 'your']);

/** Each relation word with the set of words that follow it (every occurrence). */
function relationsOf(words: string[]): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  words.forEach((w, i) => {
    if (!RELATIONS.has(w)) return;
    let next: string | undefined;
    for (let j = i + 1; j < words.length && next === undefined; j++)
      if (!ARTICLES.has(words[j]!)) next = words[j];
    if (!next) return;
    const objects = out.get(w) ?? new Set<string>();
    objects.add(next);
    out.set(w, objects);
  });
  return out;
}

/**
 * "A to B" against "B to A": a relation word takes x in one prompt and y in the other, while
 * both prompts contain both x and y, so the same things are related the other way round.
 */
function swapped(q: Profile, c: Profile): boolean {
  for (const [relation, qObjects] of q.relations) {
    const cObjects = c.relations.get(relation);
    if (!cObjects) continue;
    for (const x of qObjects) {
      if (cObjects.has(x) || !c.words.includes(x)) continue;
      for (const y of cObjects) if (!qObjects.has(y) && q.words.includes(y)) return true;
    }
  }
  return false;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function oppositesDiffer(q: Profile, c: Profile): boolean {
  for (const side of q.opposites) {
    const other = side ^ 1;
    if (c.opposites.has(other) && !c.opposites.has(side) && !q.opposites.has(other)) return true;
  }
  if (!q.cjk && !c.cjk) return false;
  for (const [a, b] of CJK_OPPOSITES) {
    const qa = q.text.includes(a);
    const qb = q.text.includes(b);
    const ca = c.text.includes(a);
    const cb = c.text.includes(b);
    if ((qa && !qb && cb && !ca) || (qb && !qa && ca && !cb)) return true;
  }
  return false;
}

/** The first guard that refuses this pair, or undefined when the candidate may answer the query. */
export function refusingGuard(
  query: string,
  candidate: string,
  guards: readonly GuardName[] = ALL_GUARDS,
): GuardName | undefined {
  if (guards.length === 0) return undefined;
  const q = profileOf(query);
  const c = profileOf(candidate);
  for (const guard of guards) {
    switch (guard) {
      case 'numbers':
        if (
          !sameList(q.quantities.values, c.quantities.values) ||
          ordinalsDiffer(q.quantities, c.quantities) ||
          unitsDiffer(q.quantities, c.quantities)
        )
          return guard;
        break;
      case 'negation':
        if (q.negated !== c.negated) return guard;
        break;
      case 'opposites':
        if (oppositesDiffer(q, c)) return guard;
        break;
      case 'direction':
        if (swapped(q, c)) return guard;
        break;
      case 'entities':
        if (entitiesDiffer(q.entities, c.entities)) return guard;
        break;
      case 'symbols':
        if (q.symbols.join(' ') !== c.symbols.join(' ')) return guard;
        break;
    }
  }
  return undefined;
}
