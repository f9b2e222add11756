"""Help-desk mail text for the search benchmark: a vocabulary ranked by frequency, sentence
templates, rare tokens (order and tracking numbers, SKUs, invoices), and a generator of
customer messages, agent replies and internal notes.

Every org draws from the same vocabulary, names and number ranges, so a word, a name or an
order number found in one tenant is found in the others too: search has to keep them apart.
"""

from __future__ import annotations

import bisect
import itertools
import random


def _words(text: str) -> list[str]:
    return text.split()


# ---------------------------------------------------------------------------------------------
# vocabulary, most frequent first (Zipf-like weights by rank)
# ---------------------------------------------------------------------------------------------

# Tier 0: the words every mail is made of.
FUNCTION_WORDS = _words("""
the to i and a you my of it for is in on this that have with be was not your we me but can
please at so are if as from do an or will would there has any all when just could what
which they our get no still up out by one about also know had only now did should here then
us its more some than like again need want how why been back after before yet very much time
today just been am were them their his her she he him who whom whose where while because
into over under about between through during without within until since though although
however maybe perhaps already ever never always often sometimes soon later quite really
actually simply only even both each every either neither other another such same own few
many most several something anything nothing everything someone anyone everyone somebody
let make made take took give gave see saw look looked said say tell told ask asked go going
went gone come came got getting find found think thought feel felt keep kept seem seemed
""")

# Tier 1: what help-desk mail is about.
CORE_WORDS = _words("""
order refund delivery package parcel account email payment invoice shipping tracking number
address product item items help thanks thank hello hi support customer service problem issue
received return exchange card charged price size colour color week days login password app
website checkout cart discount code coupon subscription cancel cancelled update status
information message reply team orders refunds deliveries packages parcels accounts emails
payments invoices products problems issues returns exchanges cards prices sizes colours
weeks day hours minutes month months year delivered shipped sent arrived arrive waiting wait
checked check confirm confirmed confirmation receive send ship track tracked working work
broken damaged missing wrong late delayed error errors link reset sign signed logged
changed change new old original full partial amount total paid pay charge charges charging
courier carrier driver warehouse stock available unavailable label box store shop online
phone call contact contacted request requested requests ticket tickets case reference
details detail note notes photo photos picture attached attachment screenshot screen
quickly asap urgent immediately kind regards best wishes dear morning afternoon evening
team's sorry apologies apologize inconvenience unfortunately hope hopefully happy glad
understand possible able unable sure okay ok fine great good bad better worse
""")

# Tier 2: the wider vocabulary of orders, billing, accounts, products and everyday English.
GENERAL_WORDS = _words("""
purchase purchased purchases buy bought buying sell sold seller vendor merchant marketplace
shipment shipments dispatch dispatched dispatching transit courier's couriers postman post
postal postage mailbox doorstep door neighbour neighbor porch reception office building
apartment flat floor street road avenue city town postcode zip country region abroad
international domestic customs duty duties tax taxes vat fee fees surcharge cost costs
expensive cheap cheaper free express standard economy priority overnight weekend saturday
sunday monday tuesday wednesday thursday friday january february march april may june july
august september october november december holiday holidays christmas easter summer winter
spring autumn tomorrow yesterday tonight morning's afternoon's week's next last previous
first second third fourth fifth once twice three four five six seven eight nine ten twenty
hundred thousand half quarter double single pair pairs set sets pack packs bundle bundles
piece pieces unit units quantity quantities extra additional another replacement replace
replaced replacing repair repaired repairs fix fixed fixing fault faulty defect defective
crack cracked scratch scratched scratches dent dented torn ripped stain stained leak leaking
leaked smell smells noise noisy loud quiet stopped stops start started starting restart
restarted turn turned switch switched button buttons battery batteries charger charging
cable cables plug socket power light lights display lid handle strap zipper zip sole soles
heel seam fabric material cotton wool leather plastic metal glass ceramic wood wooden steel
fit fits fitting fitted small smaller large larger medium tight loose long short wide narrow
heavy light lighter comfortable uncomfortable soft hard warm cold hot cool black white blue
red green grey gray brown beige navy pink yellow orange purple silver gold dark bright
model version edition series style design pattern brand collection catalogue catalog range
description photo's listing page pages site web browser chrome safari firefox edge mobile
android iphone ipad tablet laptop computer desktop device devices phone's notification
notifications push sms text texts verification verify verified two-factor authentication
authenticator otp pin username user users profile profiles settings setting preferences
language currency region's timezone billing shipping's invoice's address's addresses
street's company business businesses corporate personal private public official legal
terms conditions policy policies privacy gdpr data delete deleted deletion remove removed
export exported download downloaded upload uploaded file files pdf csv document documents
receipt receipts statement statements bank transfer transferred wire iban swift paypal
klarna stripe visa mastercard amex debit credit balance balances gift voucher vouchers
promo promotion promotions sale sales offer offers deal deals newsletter unsubscribe
subscribe subscribed subscriber membership member members loyalty points reward rewards
plan plans monthly yearly annual renewal renew renewed auto-renew trial upgrade upgraded
downgrade downgraded tier premium basic pro plus price's pricing quote quoted estimate
invoice-address vat-number tax-id registration registered register signup onboarding
integration integrations api endpoint endpoints webhook webhooks token tokens key keys
request's response responses timeout timeouts server servers outage outages downtime
maintenance incident incidents bug bugs crash crashes crashed crashing freeze freezes frozen
slow slowly fast faster loading load loads loaded spinner blank empty page's button's form
forms field fields dropdown menu tab tabs window popup banner cookie cookies cache cleared
clear reinstall reinstalled install installed uninstall update's updated updates latest
release released beta feature features request-id option options choice choose chose chosen
select selected pick picked collect collected collection pickup pick-up locker lockers
point points depot hub sorting facility facilities route routed rerouted redirect
redirected redelivery redeliver attempt attempts attempted failed fail failing failure
successful success successfully complete completed completing incomplete pending processing
processed process approve approved approval decline declined declining reject rejected
refused refuse accept accepted accepting authorise authorised authorize authorized
authorization hold held blocked block unblock unblocked locked unlock unlocked suspend
suspended closed close closing open opened opening reopen reopened escalate escalated
escalation manager supervisor agent agents colleague colleagues department specialist
engineer engineers technician technicians developer developers assistant representative
chat call's voicemail callback phoned spoke speak speaking talked talk answer answered
answering respond responded responding response's feedback review reviews rating ratings
star stars complaint complaints complain complained compensation compensate goodwill gesture
voucher's credit's store-credit reimburse reimbursed reimbursement chargeback dispute
disputed fraud fraudulent suspicious scam phishing security secure insecure safe safety
warning warnings alert alerts notice noticed notify notified reminder reminders follow
follow-up following followed chase chased chasing nudge escalating patience patient
frustrated frustrating disappointed disappointing annoyed angry upset unhappy satisfied
pleased delighted grateful appreciate appreciated appreciation lovely wonderful amazing
excellent perfect awful terrible horrible poor unacceptable ridiculous reasonable
acceptable fair unfair clear unclear confusing confused strange weird odd normal usual
unusual typical expected unexpected expect expecting hoped wondering wonder question
questions answer's explain explained explanation reason reasons cause caused because why's
mistake mistakes accident accidentally error's glitch glitches problem's trouble difficult
difficulty easy easier simple complicated instructions manual guide guides tutorial video
videos steps step setup set-up assemble assembled assembly parts part spare spares accessory
accessories compatible compatibility incompatible adapter adapters filter filters refill
refills cartridge cartridges lens lenses case cases cover covers sleeve strap's bag bags
bottle bottles cup cups mug mugs plate plates bowl bowls pan pans pot pots kettle toaster
blender grinder grinders machine machines coffee tea beans capsule capsules pod pods
shoe shoes boot boots sneaker sneakers trainer trainers sandal sandals jacket jackets coat
coats shirt shirts t-shirt hoodie hoodies sweater sweaters jumper dress dresses skirt
trousers jeans shorts socks hat hats scarf scarves gloves belt belts watch watches ring
rings necklace earrings bracelet jewellery jewelry glasses sunglasses headphones earbuds
speaker speakers keyboard mouse monitor webcam microphone router modem printer ink toner
lamp lamps bulb bulbs chair chairs desk desks table tables shelf shelves sofa cushion
pillow blanket duvet mattress bed towel towels rug curtain curtains mat mats candle
candles plant plants pot's vase frame frames mirror clock tent sleeping backpack
backpacks suitcase luggage bike bicycle helmet scooter stroller toy toys game games puzzle
book books notebook pen pens pencil paper cream shampoo soap perfume makeup lipstick
vitamins supplement supplements protein snack snacks chocolate food pet dog cat collar
leash litter aquarium seeds garden hose tools tool drill saw hammer screw screws nails
kit kits starter refurbished used second-hand sealed unopened opened tags tag receipt's
gift-wrapped gift wrap wrapping wrapped message-card birthday anniversary wedding present
daughter son wife husband mother father mum mom dad sister brother friend friends family
kids child children baby grandmother partner boss client clients customer's customers
people person someone's staff employee employees shop's store's branch branches location
locations nearest near far away distance local abroad travel travelling traveling trip
moving moved move relocating relocated holiday's vacation away back home house work's
office's hospital school university appointment meeting busy available availability
schedule scheduled reschedule rescheduled slot slots window's timeframe deadline date dates
time's period periods duration hour minute second's instant instantly promptly shortly
recently currently previously originally finally eventually apparently obviously clearly
definitely certainly absolutely exactly approximately roughly nearly almost around about's
within's per each's whole entire complete's partly partially mostly mainly especially
particularly specifically generally usually normally properly correctly incorrectly
twice's multiple repeatedly constantly continuously again's anymore otherwise instead
rather whether unless except including included include includes excluding excluded
attach attaching enclosed enclose copy copies forward forwarded forwarding cc bcc inbox
spam junk folder folders filtered subject subject-line thread threads conversation
conversations history record records log logs logged-in logout sign-in signup's
""")

# Tier 3: rarer words: specific products, processes and problems.
RARE_WORDS = _words("""
dehumidifier humidifier thermostat radiator boiler heater extractor hob oven microwave
dishwasher dryer tumble spin cycle descaler descaling limescale gasket hinge hinges latch
castor castors bracket brackets dowel dowels allen rivet grommet eyelet lanyard carabiner
pannier saddle derailleur sprocket spoke spokes tubeless valve presta schrader inflator
cleat cleats crampon gaiter gaiters insole insoles orthotic outsole midsole laces lace
aglet drawstring waistband hemline cuff cuffs collar's lapel lining fleece merino cashmere
alpaca angora viscose polyester elastane spandex nylon gore-tex waterproof windproof
breathable insulated thermal membrane seam-sealed taped zippered velcro magnetic
rechargeable wireless bluetooth pairing paired unpair firmware bootloop bricked reboot
rebooted factory flashing flashed sideload jailbreak rooted emulator latency jitter
packet handshake certificate certificates ssl tls dns cname subdomain redirect-uri oauth
saml sso scim ldap provisioning deprovisioning sandbox staging production rollback
hotfix patch patched regression deprecated deprecation pagination throttled ratelimit
rate-limited idempotency idempotent payload payloads json xml schema parse parsing parsed
malformed truncated encoding utf-8 unicode emoji emojis attachment's mime multipart
bounced bounce bounces undeliverable mailer-daemon greylisted blacklisted whitelisted
dkim spf dmarc forwarding-rule autoresponder out-of-office signature signatures
misdelivered misrouted mislabelled mislabeled misplaced mis-sorted undelivered returned-to-sender
non-delivery signature-required proof-of-delivery geotagged safeplace safe-place
customs-declaration commercial-invoice eori hs-code tariff tariffs incoterms ddp dap
import-duty brokerage clearance cleared-customs impounded confiscated quarantined
perishable perishables refrigerated chilled frozen-goods melted spoiled mouldy moldy expired
expiry best-before batch lot recall recalled allergen allergens gluten lactose vegan halal
kosher organic biodegradable compostable recyclable refillable eco sustainable carbon
offset offsetting plastic-free packaging packing packed repacked repackaged bubble
polystyrene cardboard jiffy envelope envelopes padded tamper tampered tamper-evident
seal's resealed shrink-wrapped blister pallet pallets freight haulage tailgate lorry
van vans two-man doorstep-only kerbside curbside room-of-choice unboxing installation
wall-mounted bracket's plasterboard drywall stud joist voltage wattage amperage fuse
fused surge tripped breaker earth grounded ungrounded socket's adapter's transformer
overheating overheat overheated scorch scorched burning sparks sparking smoke smoking
hazardous flammable lithium ion swollen bulging corroded corrosion rust rusted rusty
tarnished faded fading discoloured discolored bleeding shrunk shrinkage pilling bobbling
fraying frayed unravelling unstitched loose-thread wobbly wobble creak creaking squeak
squeaking rattle rattling grinding whirring buzzing humming clicking beeping flashing-light
blinking unresponsive laggy stuttering pixelated flicker flickering dead-pixel backlight
calibration calibrate recalibrate sync syncing synced desync offline online-only
geo-blocked vpn proxy firewall antivirus adblocker extension extensions incognito
private-browsing autofill password-manager captcha recaptcha bot suspected-fraud
velocity-check 3d-secure sca strong-customer-authentication issuer acquirer bin
declined-by-bank insufficient funds overdraft instalment instalments installment
installments financing finance apr interest pre-authorisation preauthorization authorisation
hold's pending-transaction duplicate duplicated double-charged overcharged undercharged
price-match price-drop adjustment adjustments prorated proration pro-rata invoice-number
purchase-order po net-30 net-60 remittance remit overdue arrears dunning collections
write-off credit-note credit-notes debit-note pro-forma proforma quotation tender
wholesale wholesaler distributor distributors reseller resellers dropship dropshipping
affiliate affiliates influencer sponsorship partnership partnerships press journalist
interview collaboration b2b b2c procurement tendering sourcing supplier suppliers
manufacturer manufacturers factory's warranty warranties guarantee guaranteed lifetime
extended-warranty warranty-claim rma return-merchandise-authorization swap swapped
like-for-like exchange-only store-credit-only non-refundable final-sale clearance-item
outlet ex-display display-model open-box b-grade seconds blemished cosmetic-damage
""")

# More everyday English of mail: verbs, adjectives and nouns outside the shop's own topics.
EVERYDAY_WORDS = _words("""
able accept according account's across act action actions active activity add added adding
address-book advance advice advise advised affect affected afraid agree agreed ahead aim
allow allowed allows alone along alright alternative alternatively amongst amounts annoying
anyway anywhere apart apology app's apparent appear appeared appears apply applied approach
appropriate area areas argue arrange arranged arrangement arrival arrive's article articles
aside aspect assume assumed attempt's attention attitude automatic automatically average
avoid aware awful's background basically basis bear beat became become becomes begin
beginning behalf behind believe belong below beside besides beyond bigger biggest bit bits
blame body boring bother bothered bottom bought's break breaking brief briefly bring
bringing brought build built bunch burden calm can't cancellation cancellations capable
care careful carefully carry carried category caught central certain chance chances
character cheaper's check-in checking checks choice's claim claimed claims clarify
clarification clever closer closed's cloud comment comments commercial common commonly
communicate communication compare compared comparison completely concern concerned
concerns condition conditions consider considered considering constant consumer contain
contained contains content context continue continued contract control convenient
conversation's convinced correct corrected correction cost's couple course covered create
created creating critical current current's damage damages deal's dealing dealt decent
decide decided decision deep definitely's delay delays deliver delivering demand denied
depend depending deposit describe described deserve despite detailed determine
developed difference different directly disappointed's discuss discussed discussion
distance's double-check doubt drive drop dropped due earlier early earn easily effect
effort efforts either's else elsewhere email's emailed emailing end ended ending enough
ensure enter entered entire's entry equal equipment especially's event events evidence
exact exactly's example examples except's exchange's existing expensive's experience
experienced experiences explain's express's extent extremely face fact facts fair's fairly
fall false familiar fast's fault's favour favor fear figure filled final financial fine's
finish finished fixed's flexible focus force forgot forgotten formal former forward's free's
frequent frequently front fully fund funds further future gain general genuine genuinely
goes gotten grateful's guess guessed guy guys handle handled handling hang happen happened
happening happens hard's hardly hate head hear heard heavy's helped helpful helping hence
hesitate highly hold's honest honestly hopeful huge idea ideas ignore ignored imagine
immediate impact important impossible improve improved improvement include's increase
increased indeed independent indicate individual inform informed initial initially input
inside insist instead's intend intended interest interested internal involved item's itself
job join joined joy judge jump justify keen kindly knew knowledge known lack large's
largely late's latter lead learn learned least leave leaving led left legal's less level
likely limit limited limits line lines list listed lists live lived loss lost lot lots
love loved low lower luck luckily main major majority manage managed manner mark marked
matter matters mean meaning means meant measure mention mentioned mere method middle mind
minor miss missed mistaken mix mixed modern moment money mostly's motivated nearly's
necessary needed needs negative neither's nervous net network nice nobody none nor note's
noted nothing's obvious occasion occur occurred offered official's ones online operate
opinion opportunity opposite ordered ordering organise organize outcome outside overall
owe owner pain paid's particular pass passed past pay's paying peace perfectly perhaps's
permanent permission personally pick-up's place placed places plain pleasant please's
plenty pointed polite position positive possibility possibly potential practical prefer
preferred prepare prepared present's pressure pretty prevent previous's primary prior
probably proceed procedure produce progress proper protect protection prove provide
provided provider providing purpose push's put putting quality quick quicker quite's raise
raised rarely rate rather's reach reached read reading ready real realise realize realised
realized reasonably receive's received's receiving recent recommend recommended reduce
reduced refer regard regarding regardless regular regularly related relevant rely remain
remaining remember remind reminded rent repeat repeated replied replies report reported
require required requirement resolve resolved resolution respect responsible rest result
results return's returned returning reveal right risk role rule rules run running rush
safe's satisfy save saved saving saw's scared search searched seen sense sensible separate
separately serious seriously serve session share shared shortly's show showed shown side
sign's significant similar simply's sit situation skip solution solutions solve solved
somehow somewhat sooner sort sorted sound sounds source space speak's special speed spend
spent stage stand state stated stay stayed steady stick stock's stop stopped's straight
strange's strict strong struggle stuck study stuff subject's submit submitted substantial
succeed suddenly suggest suggested suggestion suit suitable summary supply suppose supposed
surprise surprised switch's system systems taken taking task tasks tend terrible's test
tested testing thankful therefore thing things thorough thoroughly threat throughout thus
tight's tiny tired together top total's totally touch tough toward towards track's trade
transaction transactions treat tried tries truly trust truth try trying turn's type typed
ultimately understand's understood unfortunate unless's unlikely upon urgently useful
useless using valid value various view visible visit visited voice waited waste wasted
watch's way ways weekend's welcome whatever whenever wherever whole's wide's willing wish
wished within's wonder's word words worked worried worry worth wrote yours yourself
""")

BRANDS = _words("""Aurora Nimbus Terra Vela Orbit Kestrel Juniper Solace Halcyon Ember Tundra Zephyr
Lumen Sable Cobalt Marlow Quill Fennel Aster Rowan Alder Birch Cedar Harbor Summit Drift
Nova Pebble Willow Lark""")

PRODUCT_TYPES = (
    "desk lamp", "wireless headphones", "travel backpack", "hiking boots", "ceramic mug",
    "espresso grinder", "phone case", "yoga mat", "wool scarf", "smart scale", "water bottle",
    "linen shirt", "rain jacket", "running shoes", "coffee machine", "bluetooth speaker",
    "mechanical keyboard", "office chair", "standing desk", "duvet cover", "cast iron pan",
    "kettle", "air purifier", "robot vacuum", "electric toothbrush", "fitness tracker",
    "sleeping bag", "camping tent", "bike helmet", "kids scooter", "board game",
    "leather wallet", "sunglasses", "winter coat", "denim jacket", "silk pillowcase",
    "bath towels", "scented candle", "plant pot", "wall clock", "webcam", "monitor arm",
    "usb-c charger", "power bank", "smartwatch", "earbuds", "gaming mouse", "printer ink",
    "dog bed", "cat tree",
)
SIZES = ("XS", "S", "M", "L", "XL", "XXL", "EU 38", "EU 40", "EU 42", "EU 44", "UK 8", "UK 10")
COLOURS = ("black", "white", "navy", "olive", "sand", "grey", "burgundy", "forest green",
           "sky blue", "charcoal", "cream", "rust")
CARRIERS = ("DHL", "UPS", "FedEx", "DPD", "GLS", "Royal Mail", "Hermes", "USPS", "PostNL",
            "Evri")
CITIES = ("Berlin", "Hamburg", "Munich", "London", "Manchester", "Paris", "Lyon", "Madrid",
          "Barcelona", "Milan", "Rome", "Vienna", "Zurich", "Amsterdam", "Rotterdam", "Brussels",
          "Copenhagen", "Stockholm", "Oslo", "Dublin", "Lisbon", "Warsaw", "Prague", "Boston",
          "Chicago", "Toronto", "Austin", "Seattle")
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

FIRST_NAMES = _words("""Anna Ben Chloe David Emma Felix Grace Hugo Ines Jonas Kira Liam Maya Noah
Olivia Paul Quinn Rosa Sam Tara Umar Vera Will Xenia Yusuf Zoe Lena Marco Nina Omar Aisha
Bruno Carla Dmitri Elena Farid Greta Hannah Igor Julia Karim Laura Mateo Nadia Oscar Petra
Rafael Sara Tobias Ursula Viktor Wendy Yara Aaron Bianca Caleb Daria Elias Fiona Gabriel
Helena Isaac Jasmin Kevin Lucia Milan Nora Oliver Paula Rami Sofia Theo Valentina Wanda
Adam Beatriz Cyril Dana Erik Frida Goran Hana Ivan Jana Kai Lotte Max Mila Nils Ola Pia
Rosalind Simon Tessa Ugo Vanessa Xavier Yasmin Zara Amir Chiara Diego Eva Finn Gemma Hamza
Ida Joel Katja Leon Mira Nico Priya Raj Sven Tomas Ulla Victor Arjun Mei Hiroshi Ling
Fatima Kwame Amara Sipho Thandiwe Ngozi Chen Wei Yuki Sakura Jin Minh""")
LAST_NAMES = _words("""Smith Müller Garcia Rossi Dubois Nowak Jensen Silva Kim Tanaka Okafor Novak
Berg Costa Larsen Schmidt Moreau Ivanova Haddad Fischer Lopez Wright Meyer Santos Kowalski
Brown Johnson Williams Jones Miller Davis Wilson Anderson Taylor Thomas Moore Martin Jackson
White Harris Clark Lewis Walker Hall Young King Scott Green Baker Adams Nelson Hill Campbell
Mitchell Roberts Carter Phillips Evans Turner Torres Parker Collins Edwards Stewart Morris
Murphy Cook Rogers Morgan Peterson Cooper Reed Bailey Bell Gomez Kelly Howard Ward Cox Diaz
Richardson Wood Watson Brooks Bennett Gray James Reyes Cruz Hughes Price Myers Long Foster
Sanders Ross Morales Powell Sullivan Russell Ortiz Jenkins Perry Butler Barnes Fisher
Henderson Coleman Simmons Patterson Jordan Reynolds Hamilton Graham Wagner Becker Schulz
Hoffmann Koch Richter Klein Wolf Neumann Schwarz Zimmermann Braun Hofmann Lange Schmitt
Werner Krause Meier Lehmann Huber Mayer Hermann König Walter Peters Fuchs Bianchi Romano
Colombo Ricci Marino Greco Bruno Gallo Conti Esposito Leroy Fournier Girard Bonnet Lambert
Fontaine Rousseau Vincent Fernandez Gonzalez Rodriguez Martinez Sanchez Perez Ramirez
Flores Rivera Gomes Pereira Oliveira Costa Rodrigues Almeida Nakamura Suzuki Watanabe Ito
Yamamoto Kobayashi Chen Wang Li Zhang Liu Nguyen Tran Pham Patel Shah Singh Kumar Gupta
Das Okonkwo Mensah Adeyemi Diallo Traore Andersson Johansson Karlsson Nilsson Eriksson
Hansen Pedersen Nielsen Kristensen Virtanen Korhonen Dvorak Horvath Kovacs Szabo Popescu
Ionescu Petrov Smirnov Volkov Sokolov Papadopoulos Yilmaz Kaya Demir""")
EMAIL_DOMAINS = ("gmail.example", "outlook.example", "yahoo.example", "icloud.example",
                 "gmx.example", "web.example", "proton.example", "mail.example",
                 "northwind.example", "globex.example", "initech.example", "acme.example",
                 "hooli.example", "umbrella.example", "stark.example", "wayne.example")


def _dedupe(words):
    seen, out = set(), []
    for word in words:
        word = word.strip().lower()
        if word and word not in seen:
            seen.add(word)
            out.append(word)
    return out


def vocabulary(seed: int = 1) -> list[str]:
    """All words, most frequent first: function words, core help-desk words, then the general
    and everyday words (with the brand names) and the rare ones, each group in a seeded order."""
    rng = random.Random(seed)
    general = _dedupe(GENERAL_WORDS + EVERYDAY_WORDS + [b.lower() for b in BRANDS])
    rng.shuffle(general)
    rare = _dedupe(RARE_WORDS)
    rng.shuffle(rare)
    return _dedupe(FUNCTION_WORDS + CORE_WORDS + general + rare)


# ---------------------------------------------------------------------------------------------
# templates
# ---------------------------------------------------------------------------------------------

GREETINGS = ("Hi,", "Hello,", "Hi there,", "Dear support team,", "Good morning,",
             "Good afternoon,", "Hello support,", "Hey,", "Dear Sir or Madam,", "Hi team,")
CUSTOMER_CLOSINGS = ("Thanks,", "Thank you,", "Kind regards,", "Best regards,", "Best,",
                     "Cheers,", "Many thanks,", "Regards,", "Thanks in advance,",
                     "Looking forward to your reply,")
SIGNATURES = ("Sent from my iPhone", "Sent from my Android phone", "Get Outlook for iOS",
              "Sent from Mail for Windows")

# Slots: {product} {order} {sku} {tracking} {carrier} {amount} {date} {days} {invoice} {city}
# {weekday} {size} {colour} {agent}.
CUSTOMER_TEMPLATES = (
    "I ordered the {product} on {date} and it still has not arrived.",
    "My order {order} was supposed to be delivered by {weekday} but nothing came.",
    "The tracking number {tracking} has not been updated for {days} days.",
    "According to {carrier} the parcel was delivered, but I never received it.",
    "The {product} arrived today but the box was crushed and the item is broken.",
    "I have attached a photo of the damage to the {product}.",
    "I would like a refund to my original payment method.",
    "Could you please refund the {amount} you charged me twice?",
    "When I try to sign in it says my password is wrong, but I just reset it.",
    "The password reset link in your email does not work, it says the link has expired.",
    "The reset email never arrives, I checked the spam folder too.",
    "My invoice {invoice} shows the wrong VAT number, can you send a corrected one?",
    "We moved to {city} and I need order {order} delivered to our new address instead.",
    "Is it possible to exchange the {product} for size {size}?",
    "The {product} stopped working after {days} days of normal use.",
    "My credit card was charged twice for the same order.",
    "Can you tell me when the {product} in {colour} will be back in stock?",
    "We are a small shop in {city} and would like to order in bulk.",
    "Please cancel my subscription at the end of the current billing period.",
    "The discount code from your newsletter is not accepted at checkout.",
    "Our integration gets an error 500 from your API since this morning.",
    "I received the wrong item: I ordered {sku} but got something else.",
    "The item {sku} is listed as in stock but I cannot add it to my cart.",
    "The delivery driver left the parcel with a neighbour I do not know.",
    "I need an invoice with our company name for order {order}.",
    "Can you send me a return label for the {product}?",
    "I sent the {product} back {days} days ago and have not seen my refund yet.",
    "The colour of the {product} is completely different from the photos on the website.",
    "The {product} is much smaller than the size chart says.",
    "I was charged {amount} for shipping although the order was over the free shipping limit.",
    "Your app crashes every time I open my order history.",
    "I cannot change my delivery address in my account settings.",
    "The payment failed three times but the money has left my bank account.",
    "Could you check the status of my order {order} please?",
    "I never got a confirmation email for my order.",
    "My gift card balance shows zero although I have not used it.",
    "The parcel with tracking number {tracking} is stuck in customs.",
    "I was asked to pay {amount} import duty on delivery, nobody told me about this.",
    "The {product} makes a loud noise when I switch it on.",
    "One of the items is missing from the package.",
    "I would like to return the {product}, it does not fit.",
    "The battery of the {product} drains within a few hours.",
    "Please delete my account and all my personal data.",
    "I have been waiting for a reply for {days} days now.",
    "This is the third time I am writing about the same problem.",
    "Could you call me back? My phone number is in my account.",
    "I ordered two of {sku} but only one arrived.",
    "The courier {carrier} says the address is incomplete.",
    "Is there a warranty on the {product}? It is only {days} months old.",
    "I would like to upgrade to the yearly plan.",
    "The checkout page keeps loading and never finishes.",
    "I accidentally ordered the {product} twice, please cancel one of them.",
    "The invoice {invoice} was paid on {date} but you sent a payment reminder.",
    "The lid of the {product} does not close properly.",
    "Can I pick up order {order} at your store in {city}?",
    "The tracking page says the parcel was returned to sender.",
    "Thanks a lot for the quick help last time!",
    "My daughter loves the {product}, but the charger is missing.",
    "Do you ship to {city}? The checkout does not accept my postcode.",
    "The two-factor authentication code never arrives by SMS.",
)
AGENT_TEMPLATES = (
    "Thanks for reaching out, I have checked your order {order} and it is on its way.",
    "Sorry about that. I have issued a full refund of {amount}; it will show up in 3-5"
    " business days.",
    "I have sent you a new password reset link, it is valid for one hour.",
    "Here is the corrected invoice {invoice}. Let us know if anything else is missing.",
    "We have updated the delivery address. You will get a new tracking number soon.",
    "The exchange is arranged: please use the enclosed return label.",
    "I have forwarded this to our engineers and will get back to you shortly.",
    "I can see that {carrier} has your parcel at their depot in {city}.",
    "The new tracking number is {tracking}.",
    "Your replacement {product} was dispatched today.",
    "Could you send us a photo of the damaged {product} and the box it came in?",
    "I have added a credit of {amount} to your account as a gesture of goodwill.",
    "The item {sku} is back in stock on {date}.",
    "Your subscription has been cancelled and will end on {date}.",
    "I have opened an investigation with {carrier}; this usually takes {days} business days.",
    "Please try clearing the cache of your browser and sign in again.",
    "I have merged your two accounts, you can now sign in with either email address.",
    "The refund for order {order} was processed on {date}.",
    "We are sorry for the inconvenience and thank you for your patience.",
    "As a small thank you, here is a discount code for your next order.",
    "Our warehouse confirmed that the parcel left on {date}.",
    "Could you confirm the delivery address for order {order}?",
    "I have escalated this to my supervisor.",
    "The {product} comes with a two-year warranty, so a repair is free of charge.",
    "I have reset the two-factor authentication on your account.",
    "Your account and personal data have been deleted as requested.",
    "The payment was declined by your bank; no money was taken.",
    "The wholesale team will contact you within {days} days.",
    "Please return the {product} within 30 days using the prepaid label.",
    "Import duties are paid by the recipient for orders outside the EU.",
)
NOTE_TEMPLATES = (
    "Customer called again about {order}, promised a callback tomorrow.",
    "Checked with the warehouse: {sku} was mispicked.",
    "Refund of {amount} approved by the team lead.",
    "Carrier claim opened with {carrier}, reference {tracking}.",
    "Possible fraud, the billing and delivery address do not match.",
    "VIP customer, please handle with priority.",
    "Duplicate of an earlier ticket, merged the history here.",
    "Waiting for the engineers, see the internal bug report.",
)
AGENT_OPENERS = ("Hi {customer},", "Hello {customer},", "Dear {customer},", "Hi {customer}!")
AGENT_CLOSINGS = ("Best regards,", "Kind regards,", "All the best,", "Have a nice day,",
                  "Thanks,")
SUBJECTS = (
    "Where is my order {order}?", "Order {order} arrived damaged", "Refund for order {order}",
    "Can't log in to my account", "Password reset link does not work",
    "Invoice {invoice} is wrong", "Change the delivery address of {order}",
    "Question about the {product}", "{product} stopped working",
    "Exchange {product} for another size", "Is the {product} back in stock?",
    "Payment failed for order {order}", "Cancel my subscription",
    "Upgrade to the yearly plan", "Wholesale inquiry", "Tracking number missing for {order}",
    "Coupon code not accepted", "Warranty claim for the {product}",
    "Delete my account (GDPR)", "Thank you!", "Complaint about {carrier}",
    "API returns 500 on /orders", "App crashes when opening my orders",
    "Double charge on my card", "Gift card balance", "Wrong item received ({sku})",
    "Missing item in order {order}", "Parcel stuck in customs", "Return label please",
    "Still waiting for my refund",
)


def sku(n: int) -> str:
    return f"SKU-{n:05d}"


class TextGenerator:
    """Messages of 30-300 words (log-normal, median ~70): a greeting, template sentences mixed
    with Zipf-distributed words, a closing. One instance per chunk, seeded."""

    SKUS = 20_000  # shared catalogue: the same SKU codes in every org

    def __init__(self, rng: random.Random, vocab: list[str], exponent: float = 1.07):
        self.rng = rng
        self.vocab = vocab
        self.cum = list(itertools.accumulate(1.0 / (rank + 2.7) ** exponent
                                             for rank in range(len(vocab))))
        self.total = self.cum[-1]
        self.products = [f"{b} {t}" for b in BRANDS for t in PRODUCT_TYPES]
        # Sentences without per-message numbers, rendered once per generator (fast picks).
        self.customer_pool = self._render_pool(CUSTOMER_TEMPLATES, 40)
        self.agent_pool = self._render_pool(AGENT_TEMPLATES, 40)
        self.note_pool = self._render_pool(NOTE_TEMPLATES, 40)

    # --- slots --------------------------------------------------------------------------------
    def amount(self) -> str:
        r = self.rng
        return f"{r.choice('$€£')}{r.randint(5, 400)}.{r.choice(('00', '50', '90', '99'))}"

    def date(self) -> str:
        return f"{self.rng.choice(MONTHS)} {self.rng.randint(1, 28)}"

    def tracking(self) -> str:
        r = self.rng
        kind = r.random()
        if kind < 0.35:
            return "1Z" + "".join(r.choices("0123456789ABCDEFGHJKLMNPRSTUVWXYZ", k=16))
        if kind < 0.65:
            return "JJD" + "".join(r.choices("0123456789", k=15))
        if kind < 0.85:
            return "".join(r.choices("0123456789", k=12))
        return f"RM{r.randint(100000000, 999999999)}GB"

    def invoice(self) -> str:
        return f"INV-{self.rng.choice((2024, 2025, 2026))}-{self.rng.randint(1, 99999):06d}"

    def slots(self, order: int | None = None, product: str | None = None) -> dict[str, str]:
        r = self.rng
        return {
            "product": product or r.choice(self.products),
            "order": f"#{order if order else r.randint(100000, 999999)}",
            "sku": sku(r.randrange(self.SKUS)),
            "tracking": self.tracking(), "carrier": r.choice(CARRIERS),
            "amount": self.amount(), "date": self.date(), "days": str(r.randint(2, 21)),
            "invoice": self.invoice(), "city": r.choice(CITIES), "weekday": r.choice(WEEKDAYS),
            "size": r.choice(SIZES), "colour": r.choice(COLOURS),
        }

    def _render_pool(self, templates, per_template: int) -> list[tuple[str, int]]:
        pool = []
        for template in templates:
            for _ in range(per_template):
                text = template.format(**self.slots())
                pool.append((text, text.count(" ") + 1))
        return pool

    # --- pieces -------------------------------------------------------------------------------
    def words(self, n: int) -> str:
        picked = self.rng.choices(self.vocab, cum_weights=self.cum, k=n)
        return " ".join(picked).capitalize() + ("." if self.rng.random() < 0.85 else "?")

    def _body(self, pool, templates, target: int, order: int, product: str,
              template_share: float) -> list[str]:
        r, rand = self.rng, self.rng.random
        out, count = [], 0
        if rand() < 0.6:  # the first sentence names this ticket's order or product
            text = r.choice(templates).format(**self.slots(order, product))
            out.append(text)
            count += text.count(" ") + 1
        while count < target:
            if rand() < template_share:
                text, n = pool[int(rand() * len(pool))]
                if rand() < 0.12:  # a fresh rare token (order, tracking number, SKU...)
                    text = r.choice(templates).format(**self.slots())
                    n = text.count(" ") + 1
            else:
                n = min(target - count, 4 + int(rand() * 11))
                text = self.words(max(n, 2))
            out.append(text)
            count += n
        return out

    def target_words(self) -> int:
        return max(30, min(300, int(self.rng.lognormvariate(4.25, 0.55))))

    def paragraphs(self, sentences: list[str]) -> str:
        r, out, para = self.rng, [], []
        for sentence in sentences:
            para.append(sentence)
            if len(para) >= 2 and r.random() < 0.35:
                out.append(" ".join(para))
                para = []
        if para:
            out.append(" ".join(para))
        return "\n\n".join(out)

    # --- messages -----------------------------------------------------------------------------
    def customer_message(self, customer_first: str, order: int, product: str,
                         follow_up: bool) -> tuple[str, str | None]:
        """(body_text, body_visible): body_visible is the new part when the mail quotes the
        previous one or ends in a device signature, else None."""
        r = self.rng
        target = self.target_words()
        parts = [r.choice(GREETINGS),
                 self.paragraphs(self._body(self.customer_pool, CUSTOMER_TEMPLATES, target,
                                            order, product, 0.55)),
                 f"{r.choice(CUSTOMER_CLOSINGS)}\n{customer_first}"]
        new = "\n\n".join(parts)
        tail = ""
        if r.random() < 0.12:
            tail += "\n\n" + r.choice(SIGNATURES)
        if follow_up and r.random() < 0.5:
            quoted, _ = r.choice(self.agent_pool)
            more, _ = r.choice(self.agent_pool)
            tail += (f"\n\nOn {r.choice(WEEKDAYS)}, {self.date()}, Support wrote:\n> "
                     f"{quoted}\n> {more}")
        return (new + tail, new if tail else None)

    def agent_reply(self, customer_first: str, agent_name: str, org_name: str, order: int,
                    product: str) -> str:
        r = self.rng
        target = max(30, self.target_words() * 2 // 3)
        return "\n\n".join((
            r.choice(AGENT_OPENERS).format(customer=customer_first),
            self.paragraphs(self._body(self.agent_pool, AGENT_TEMPLATES, target, order, product,
                                       0.6)),
            f"{r.choice(AGENT_CLOSINGS)}\n{agent_name}\n{org_name} Support"))

    def note(self, order: int, product: str) -> str:
        target = 30 + int(self.rng.random() * 40)
        return " ".join(self._body(self.note_pool, NOTE_TEMPLATES, target, order, product, 0.5))

    def subject(self, order: int, product: str) -> str:
        return self.rng.choice(SUBJECTS).format(**self.slots(order, product))


def pick(rand, cumulative: list[float], values):
    """A weighted pick from a cumulative weight list (any scale)."""
    return values[min(bisect.bisect(cumulative, rand() * cumulative[-1]), len(values) - 1)]
