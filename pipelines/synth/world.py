"""The vocabulary synthetic lives are drawn from: names, places, jobs, trips, habits, goals,
preferences, the people a person mentions, and the small talk between the things that matter.
Plain data; :mod:`pipelines.synth.personas` picks from it with a seeded RNG."""

from __future__ import annotations

FIRST_NAMES = (
    "Maya Lena Omar Priya Jonas Aisha Diego Hana Felix Zara Mateo Ines Ravi Sofia Tariq Elise "
    "Kofi Mira Noah Yuki Amara Lucas Nadia Theo Leila Marco Freya Samir Ivy Hugo Clara Emeka "
    "Rosa Arjun Talia Nils Beatriz Kai Selin Owen Farida Jasper Mei Andre Layla Bruno Greta "
    "Idris Naomi Pablo Sana Viktor Esme Tomas Asha Caleb Dalia Henrik Lucia Rami Ada"
).split()

CITIES = (
    "Denver Austin Lisbon Toronto Seattle Chicago Boston Portland Dublin Madrid Berlin "
    "Melbourne Vancouver Nairobi Osaka Prague Montreal Phoenix Atlanta Edinburgh Copenhagen "
    "Minneapolis Nashville Oslo Vienna Auckland Baltimore Pittsburgh Sacramento Tucson"
).split()

JOBS = [
    ("nurse", ["St. Mary's Hospital", "Riverside Clinic", "Mercy General"]),
    ("software engineer", ["Globex", "Initech", "Brightwave", "Nimbus Labs"]),
    ("teacher", ["Lincoln High School", "Oakwood Elementary", "Maple Academy"]),
    ("graphic designer", ["Pixel & Co", "Studio Nord", "Bluebird Media"]),
    ("accountant", ["Hart & Lowe", "Summit Finance", "Ledgerline"]),
    ("chef", ["Luigi's", "The Blue Door", "Harbor Kitchen"]),
    ("physiotherapist", ["MoveWell", "Cornerstone Rehab", "Peak Physio"]),
    ("data analyst", ["Acme Insights", "Northwind", "Quanta Group"]),
    ("architect", ["Foster Lane", "Arc Studio", "Greystone Design"]),
    ("journalist", ["the Daily Ledger", "City Weekly", "Metro News"]),
    ("veterinarian", ["Paws Animal Hospital", "Green Valley Vets", "Happy Tails Clinic"]),
    ("librarian", ["the Central Library", "Eastside Library", "the University Library"]),
    ("electrician", ["BrightSpark", "Volt Works", "Current Electric"]),
    ("marketing manager", ["Hooli", "Vandelay Industries", "Cobalt Brands"]),
    ("pharmacist", ["CityCare Pharmacy", "Wellpoint", "Corner Drugstore"]),
]

DESTINATIONS = [
    "Lisbon",
    "Kyoto",
    "Iceland",
    "Barcelona",
    "Rome",
    "Mexico City",
    "Marrakech",
    "Hawaii",
    "Yosemite",
    "the Grand Canyon",
    "Paris",
    "Amsterdam",
    "Cape Town",
    "Bali",
    "Scotland",
    "Banff",
    "New Orleans",
    "the Rocky Mountains",
    "Crete",
    "Seoul",
    "Buenos Aires",
    "Lake Tahoe",
    "Patagonia",
    "the Amalfi Coast",
    "Tokyo",
]

TRIP_DETAILS = [
    ("we hiked up to a waterfall every morning", "hiked to a waterfall"),
    ("the food was amazing, especially the seafood", "ate a lot of seafood"),
    ("we took a cooking class together", "took a cooking class"),
    ("we rented bikes and rode along the coast", "rode bikes along the coast"),
    ("it rained a lot but the museums were great", "visited museums"),
    ("we went snorkeling and saw sea turtles", "went snorkeling"),
    ("we camped under the stars for two nights", "camped under the stars"),
    ("we took a hot-air balloon ride at sunrise", "took a hot-air balloon ride"),
    ("I finally learned to surf", "learned to surf"),
    ("we visited a tiny vineyard and did a wine tasting", "did a wine tasting"),
]

RELATIONS = ["sister", "brother", "mom", "dad", "best friend", "cousin", "coworker", "neighbor"]

PERSON_EVENTS = [
    # (text after the name, question phrase, single-hop detail question, detail answer)
    ("got engaged {rel}", "get engaged", None, None),
    ("graduated from nursing school {rel}", "graduate from nursing school", None, None),
    ("got a promotion at work {rel}", "get a promotion", None, None),
    (
        "had a baby girl named {baby} {rel}",
        "have a baby",
        "What did {name} name the baby?",
        "{baby}",
    ),
    (
        "adopted a puppy named {pet} {rel}",
        "adopt a puppy",
        "What is the name of {name}'s puppy?",
        "{pet}",
    ),
    ("ran a marathon for the first time {rel}", "run a marathon", None, None),
    (
        "started a band called {band} {rel}",
        "start a band",
        "What is {name}'s band called?",
        "{band}",
    ),
    ("opened a bakery downtown {rel}", "open a bakery", None, None),
    ("moved to {city} {rel}", "move to {city}", None, None),
    ("bought a house {rel}", "buy a house", None, None),
]
BABY_NAMES = "Ella Mila Nora Ava Zoe Lila Iris Ruby".split()
BAND_NAMES = ["the Night Owls", "Velvet Static", "Paper Kites", "the Copper Foxes", "Lowlight"]

PETS = [
    ("dog", ["Biscuit", "Pepper", "Max", "Luna", "Scout", "Maple"]),
    ("cat", ["Mochi", "Oliver", "Cleo", "Simba", "Tofu"]),
    ("rabbit", ["Clover", "Thumper", "Hazel"]),
    ("parrot", ["Kiwi", "Mango", "Rio"]),
]

PURCHASES = [
    ("a new road bike", "my commute", "commuting"),
    ("a telescope", "stargazing", "stargazing"),
    ("a sewing machine", "making my own clothes", "making clothes"),
    ("a pottery wheel", "my pottery hobby", "pottery"),
    ("a pair of hiking boots", "the trails", "hiking"),
    ("an electric piano", "practicing at home", "practicing piano"),
    ("a camping tent", "weekend camping trips", "camping"),
    ("a film camera", "street photography", "photography"),
    ("a kayak", "paddling on the lake", "kayaking"),
    ("a standing desk", "working from home", "working from home"),
]

OUTINGS = [
    # (text, question phrase, where-question answer slot)
    ("went to a {genre} concert at {venue} {rel}", "go to a {genre} concert", "{venue}"),
    ("ran a charity 5K in {park} {rel}", "run a charity 5K", "{park}"),
    ("took a pottery class at {venue} {rel}", "take a pottery class", "{venue}"),
    ("volunteered at the animal shelter {rel}", "volunteer at the animal shelter", None),
    ("went to a comedy show at {venue} {rel}", "go to a comedy show", "{venue}"),
    ("visited the art museum with {friend} {rel}", "visit the art museum", None),
    ("tried rock climbing for the first time {rel}", "try rock climbing", None),
    ("went to a farmers market in {park} {rel}", "go to a farmers market", "{park}"),
]
VENUES = ["the Orpheum", "Harbor Hall", "the Blue Note", "Riverside Arena", "the Old Mill"]
PARKS = ["Green Park", "Riverside Park", "City Park", "Lakeside Park", "Elm Park"]
GENRES = ["jazz", "folk", "indie rock", "classical", "hip hop", "country", "electronic", "blues"]

HABITS = [
    # (activity noun phrase, verb phrase)
    ("yoga", "do yoga"),
    ("running", "go running"),
    ("swimming", "go swimming"),
    ("a pottery class", "go to pottery class"),
    ("piano lessons", "take piano lessons"),
    ("a book club", "go to book club"),
    ("rock climbing", "go rock climbing"),
    ("salsa dancing", "go salsa dancing"),
    ("volunteering at the food bank", "volunteer at the food bank"),
    ("a painting class", "go to painting class"),
    ("cycling", "go cycling"),
    ("meditation", "meditate"),
]
PARTS_OF_DAY = ["morning", "evening", "afternoon"]

GOALS = [
    ("run a half marathon", "running"),
    ("save enough for a house", "saving money"),
    ("learn Spanish", "learning Spanish"),
    ("read 30 books", "reading"),
    ("finish writing my novel", "writing"),
    ("get my pilot's license", "flying"),
    ("learn to play the guitar", "guitar"),
    ("climb Mount Rainier", "climbing"),
    ("start my own bakery", "baking"),
    ("learn to swim properly", "swimming"),
]

PREFERENCES = [
    # (topic, question noun, options)
    ("music", "music", GENRES),
    (
        "food",
        "food",
        ["Thai food", "Italian food", "Mexican food", "sushi", "Indian food", "Korean food"],
    ),
    (
        "books",
        "books",
        ["mystery novels", "science fiction", "fantasy novels", "biographies", "poetry"],
    ),
    ("shows", "shows", ["cooking shows", "true crime documentaries", "sitcoms", "nature shows"]),
]

FILLER_USER = [
    "Work has been really busy lately.",
    "I slept terribly, too much coffee I think.",
    "The weather turned cold again.",
    "I watched a documentary about bees, it was fascinating.",
    "I cooked pasta for lunch, nothing fancy.",
    "Traffic on the way home was awful.",
    "I need to call the plumber about the sink.",
    "My phone screen cracked, so annoying.",
    "I've been trying to drink more water.",
    "I reorganized my closet, it feels great.",
    "The neighbors were loud again.",
    "I finally finished that puzzle.",
    "I'm thinking about repainting the kitchen.",
    "Honestly I just want a quiet weekend.",
    "I made banana bread, it came out a bit dry.",
    "I got stuck in a long meeting today.",
    "My back hurts from sitting all day.",
    "I tried a new coffee shop near work.",
    "The garden needs weeding badly.",
    "I keep forgetting to reply to emails.",
]
FILLER_CLOSERS = [
    "Anyway, I should get going.",
    "Talk soon!",
    "Thanks for listening, as always.",
    "Okay, time for bed.",
    "Alright, back to work for me.",
]
OPENERS_BY_HOUR = {
    "morning": ["Good morning!", "Morning! Got a minute?", "Hey, good morning."],
    "afternoon": ["Hey! How's it going?", "Hi, long time no chat.", "Hi! I have news."],
    "evening": ["Evening! What a day.", "Hey, are you around?", "Hi! Long day here."],
}
OPENER_REPLIES = {
    "assistant": ["Hi! Good to hear from you.", "Hello! What's new?", "Hey! How are you doing?"],
    "friend": [
        "Hey! What's up?",
        "Hi! Good to hear from you.",
        "Oh hey, I was just thinking of you.",
    ],
}
POSITIVE_REPLIES = {
    "assistant": [
        "That sounds wonderful!",
        "Oh wow, congratulations!",
        "How did that go?",
        "That must have been exciting.",
        "I'm glad to hear that.",
        "Tell me more about it!",
        "Nice, that sounds fun.",
        "That's great news!",
        "Interesting, what made you decide that?",
        "Sounds like a good plan.",
    ],
    "friend": [
        "No way, that's amazing!",
        "Wow, how was it?",
        "That's so cool, I'm happy for you.",
        "Oh nice! Tell me everything.",
        "Ha, that sounds like you.",
        "That's great to hear!",
        "Wow, I had no idea.",
        "Good for you!",
        "Sounds like a blast.",
        "I'm jealous, honestly.",
    ],
}
ACK_REPLIES = {
    "assistant": ["Oh nice.", "Good to know!", "Cool, tell me more.", "That's lovely."],
    "friend": ["Oh cool.", "Nice!", "Ha, I remember you mentioning that.", "Aw, that's sweet."],
}
NEUTRAL_REPLIES = {
    "assistant": [
        "That sounds like a lot, take care of yourself.",
        "I hear you.",
        "Hopefully things calm down soon.",
        "That happens to everyone sometimes.",
        "Fair enough!",
    ],
    "friend": [
        "Ugh, same here.",
        "Oh no, that's rough.",
        "Ha, I know the feeling.",
        "Same honestly.",
        "Been there.",
    ],
}

#: how people wrap news in conversation (no time words: the news carries its own)
CHATTY_PREFIX = {
    "assistant": [
        "Guess what?",
        "So, some news:",
        "Okay, update:",
        "I have to tell you something.",
        "Hi again!",
        "Quick thing before I forget.",
    ],
    "friend": [
        "Hey {friend}!",
        "{friend}, guess what?",
        "So much has happened since we talked.",
        "Okay, news from my side.",
        "Quick update for you:",
        "Hey {friend}, how are you?",
    ],
}
CHATTY_SUFFIX = [
    "It was honestly the highlight of my month.",
    "I'm still smiling about it.",
    "It felt like a big step for me.",
    "Anyway, what have you been up to?",
    "I'll tell you more about it soon.",
    "It was a lot, but worth it.",
    "Life has been busy but good.",
    "I really needed that.",
]
