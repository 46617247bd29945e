## پناه: دری. کلمه‌های ساده و محترمانه؛ خواننده شاید ترسیده یا در عجله باشد.

hub-name = پناه
hub-tagline = جای امن برای جمعیت‌ها و کسانی که در کنارشان ایستاده‌اند
lang-switch = زبان
skip-to-content = رفتن به متن اصلی

home-title = جمعیت‌های این مرکز
home-intro = هر جمعیت در این‌جا صفحهٔ خود را دارد: آن‌ها کی هستند، به چه نیاز دارند و چگونه می‌توان با امنیت با آن‌ها تماس گرفت.
home-empty = هنوز هیچ جمعیتی در این مرکز ساخته نشده است.

appeal-who = ما کی هستیم
appeal-needs = به چه نیاز داریم
appeal-give = چگونه کمک کنید
appeal-contact = با ما تماس بگیرید
appeal-contact-text = اگر می‌توانید کمک کنید یا راه امن‌تری برای کمک به ما می‌شناسید، برای ما بنویسید. پیام‌ها همین که برسند رمزگذاری می‌شوند و تنها هماهنگ‌کننده‌های ما می‌توانند آن‌ها را بخوانند.
appeal-contact-soon = فورم امن تماس هنوز در این مرکز باز نشده است.
appeal-updated = به‌روزشده در { $date }
appeal-missing = این جمعیت هنوز درخواست خود را به این زبان ننوشته است.

footer-privacy = این صفحه هیچ کوکی نمی‌گذارد و چیزی را از وب‌سایت‌های دیگر بار نمی‌کند.
footer-powered = با پناه کار می‌کند

error-title = مشکلی پیش آمد
error-not-found = این‌جا صفحه‌ای نیست.
error-no-collective = جمعیتی به نام «{ $slug }» در این مرکز نیست.
error-bad-lang = «{ $lang }» زبانی نیست که این مرکز دارد. دری (fa)، پښتو (ps) یا English (en) را انتخاب کنید.
error-internal = مرکز نتوانست پاسخ دهد. لطفاً یک دقیقه بعد دوباره کوشش کنید.
error-go-home = بازگشت به فهرست جمعیت‌ها

## تاریخ‌ها: ماه‌های هجری شمسی به نام‌های افغانستان (حمل، ثور…).

date-format = { $day } { $month } { $year }
gregorian-month-1 = جنوری
gregorian-month-2 = فبروری
gregorian-month-3 = مارچ
gregorian-month-4 = اپریل
gregorian-month-5 = می
gregorian-month-6 = جون
gregorian-month-7 = جولای
gregorian-month-8 = اگست
gregorian-month-9 = سپتمبر
gregorian-month-10 = اکتوبر
gregorian-month-11 = نومبر
gregorian-month-12 = دسمبر
solar-month-1 = حمل
solar-month-2 = ثور
solar-month-3 = جوزا
solar-month-4 = سرطان
solar-month-5 = اسد
solar-month-6 = سنبله
solar-month-7 = میزان
solar-month-8 = عقرب
solar-month-9 = قوس
solar-month-10 = جدی
solar-month-11 = دلو
solar-month-12 = حوت
