## Panah: English. Plain, respectful words; readers may be frightened or in a hurry.

hub-name = Panah
hub-tagline = A safe place for collectives and the people who stand with them
lang-switch = Language
skip-to-content = Skip to content

home-title = Collectives on this hub
home-intro = Each collective here has its own page: who they are, what they need, and how to reach them safely.
home-empty = No collective has been set up on this hub yet.

appeal-who = Who we are
appeal-needs = What we need
appeal-give = How to give
appeal-contact = Get in touch
appeal-contact-text = If you can help, or know a safer way to help us, write to us. Messages are encrypted as soon as they arrive; only our coordinators can read them.
appeal-contact-soon = The secure contact form is not open on this hub yet.
appeal-updated = Updated { $date }
appeal-missing = This collective has not written its appeal in this language yet.

footer-privacy = This page sets no cookies and loads nothing from other websites.
footer-powered = Runs on Panah

error-title = Something went wrong
error-not-found = There is no page here.
error-no-collective = There is no collective called “{ $slug }” on this hub.
error-bad-lang = “{ $lang }” is not a language this hub offers. Choose دری (fa), پښتو (ps) or English (en).
error-internal = The hub could not answer. Please try again in a minute.
error-go-home = Back to the list of collectives

## Dates. Gregorian months for English pages; solar months for reference.

date-format = { $day } { $month } { $year }
gregorian-month-1 = January
gregorian-month-2 = February
gregorian-month-3 = March
gregorian-month-4 = April
gregorian-month-5 = May
gregorian-month-6 = June
gregorian-month-7 = July
gregorian-month-8 = August
gregorian-month-9 = September
gregorian-month-10 = October
gregorian-month-11 = November
gregorian-month-12 = December
solar-month-1 = Hamal
solar-month-2 = Sawr
solar-month-3 = Jawza
solar-month-4 = Saratan
solar-month-5 = Asad
solar-month-6 = Sunbula
solar-month-7 = Mizan
solar-month-8 = Aqrab
solar-month-9 = Qaws
solar-month-10 = Jadi
solar-month-11 = Dalw
solar-month-12 = Hut
