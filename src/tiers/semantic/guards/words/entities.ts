/**
 * Closed classes whose members exclude each other: "class=canonical:word,word ...". A word or a
 * two-word phrase (mac os) maps to its class and canonical member. A leading "^" on a word:
 * counted only when capitalized inside a sentence ("Go", "Swift", "May"), or, for plan tiers,
 * also right before a plan noun ("free plan", "business account").
 */
export const ENTITY_SPEC: readonly string[] = [
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
export const CJK_ENTITY_SPEC: readonly string[] = [
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
export const PLAN_NOUNS: ReadonlySet<string> = new Set(
  'plan plans tier tiers edition editions version versions account accounts subscription subscriptions license licence membership package level seat seats user users member members customer customers option 版'.split(
    ' ',
  ),
);
/** Words that carry no difference between two questions, beyond question/text.ts's stopwords. */
export const FILLER: ReadonlySet<string> = new Set(
  "what's how's where's who's it's i'm i've i'd i'll can't don't kindly possible actually really exactly anyone someone somebody anybody".split(
    ' ',
  ),
);
