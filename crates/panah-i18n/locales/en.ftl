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

## The contact drop

appeal-contact-link = Write to us securely
appeal-replies-link = Read replies with your codename
contact-title = Write to { $name }
contact-intro = Your message and files are encrypted the moment they reach this hub, so that only the collective's coordinators can read them. The hub keeps no record of who you are or where you wrote from.
contact-safety-title = Before you write
contact-safety-1 = If you can, use Tor Browser. This page works with JavaScript switched off.
contact-safety-2 = Do not write your full name, phone number or ID number unless the coordinators ask for them.
contact-safety-3 = Photos (JPEG and PNG) are cleaned of hidden details, such as the place they were taken and the phone model, before they are stored. Other files are kept exactly as you send them, with any hidden details they carry: remove those first if you can.
contact-safety-4 = After sending you get a codename. It is the only way to read replies. Write it down and keep it where nobody searching your phone will find it.
contact-message = Your message
contact-files = Files (optional): up to { $count } files, { $size } in total
contact-send = Send securely
contact-honeypot = Leave this field empty
size-mb = { $n } MB
sent-title = Your message was received
sent-codename-intro = This is your codename. It is shown only once. Write it down: you need it to read replies.
sent-codename-warn = Anyone who has this codename can read the replies. Keep it secret, and do not save it on a phone that may be searched.
sent-next = Come back in a few days to read replies.
sent-file-scrubbed = { $name }: hidden details (place, phone model, time) were removed.
sent-file-kept = { $name }: kept exactly as you sent it.
followup-sent = Your new message was added to the conversation.
replies-title = Read replies
replies-intro = Enter the codename you were given when you first wrote. You may type it with or without spaces, in any digits.
replies-codename = Codename
replies-open = Show replies
replies-none = There are no replies yet. Please come back later.
replies-from = Reply from the coordinators, { $date }
replies-follow = Write again in the same conversation
error-codename = A codename has 28 digits. Please check what you typed.
error-empty = Please write a message or attach a file.
error-too-many-files = You can send at most { $count } files at once.
error-too-large = That is too much to send at once: at most { $size } in total.
error-message-long = Your message is too long: at most { $count } characters. Please split it into several messages.
error-not-text = The message could not be read as text. Please type it again.
error-upload-broken = The upload was cut off or damaged. Nothing was kept; please try again.
error-busy = Many people are writing right now. Please wait a minute and try again.
error-no-coordinators = This collective cannot receive messages yet.
error-damaged-image = “{ $name }” looks like a photo but is damaged, so it could not be cleaned. Nothing was kept. Please send it again, or inside a ZIP file.

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
