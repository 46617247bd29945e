## پناه: پښتو. ساده او درناوي لرونکي ټکي؛ لوستونکی ښايي وېرېدلی وي يا په بيړه وي.

hub-name = پناه
hub-tagline = د ټولنو او د هغو کسانو لپاره چې ورسره ولاړ دي، یو خوندي ځای
lang-switch = ژبه
skip-to-content = اصلي متن ته ورشئ

home-title = په دې مرکز کې ټولنې
home-intro = دلته هره ټولنه خپله پاڼه لري: دوی څوک دي، څه ته اړتیا لري، او څنګه ورسره په خوندي ډول اړیکه نیول کېدای شي.
home-empty = تر اوسه په دې مرکز کې هېڅ ټولنه نه ده جوړه شوې.

appeal-who = موږ څوک یو
appeal-needs = موږ څه ته اړتیا لرو
appeal-give = څنګه مرسته وکړئ
appeal-contact = له موږ سره اړیکه ونیسئ
appeal-contact-text = که مرسته کولای شئ، یا له موږ سره د مرستې کومه خوندي لار پېژنئ، موږ ته ولیکئ. پیغامونه د رسېدو سره سم کوډ کېږي او یوازې زموږ همغږي کوونکي یې لوستلای شي.
appeal-contact-soon = د اړیکې خوندي فورمه تر اوسه په دې مرکز کې نه ده پرانیستل شوې.
appeal-updated = تازه شوی: { $date }
appeal-missing = دې ټولنې تر اوسه خپله غوښتنه په دې ژبه نه ده لیکلې.

footer-privacy = دا پاڼه هېڅ کوکي نه ږدي او له نورو وېبپاڼو هېڅ شی نه راوړي.
footer-powered = په پناه چلېږي

error-title = یوه ستونزه پېښه شوه
error-not-found = دلته هېڅ پاڼه نشته.
error-no-collective = په دې مرکز کې د «{ $slug }» په نوم هېڅ ټولنه نشته.
error-bad-lang = «{ $lang }» هغه ژبه نه ده چې دا مرکز یې لري. دری (fa)، پښتو (ps) یا English (en) وټاکئ.
error-internal = مرکز ځواب ورنه کړای شو. مهرباني وکړئ یوه دقیقه وروسته بیا هڅه وکړئ.
error-go-home = د ټولنو لېست ته بېرته ورشئ

## نېټې: لمریز هجري میاشتې په پښتو نومونو (وری، غویی…).

date-format = { $day } { $month } { $year }
gregorian-month-1 = جنوري
gregorian-month-2 = فبروري
gregorian-month-3 = مارچ
gregorian-month-4 = اپرېل
gregorian-month-5 = می
gregorian-month-6 = جون
gregorian-month-7 = جولای
gregorian-month-8 = اګست
gregorian-month-9 = سپتمبر
gregorian-month-10 = اکتوبر
gregorian-month-11 = نومبر
gregorian-month-12 = دسمبر
solar-month-1 = وری
solar-month-2 = غویی
solar-month-3 = غبرګولی
solar-month-4 = چنګاښ
solar-month-5 = زمری
solar-month-6 = وږی
solar-month-7 = تله
solar-month-8 = لړم
solar-month-9 = لیندۍ
solar-month-10 = مرغومی
solar-month-11 = سلواغه
solar-month-12 = کب
