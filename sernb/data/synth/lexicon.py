"""What the synthetic speakers say: emotion names as IEMOCAP's evaluators write them, the
words and phrases of each emotion, the improvised scenarios and the scripts.

Pure data; :mod:`sernb.data.synth.planning` draws from it.
"""

from __future__ import annotations

from dataclasses import dataclass

# ----------------------------------------------------------------------------------------------
# Emotions: names as IEMOCAP's evaluators write them, neighbours that share cues
# ----------------------------------------------------------------------------------------------

#: The six classes of the paper, then the extra labels the 6-class map drops.
EMOTIONS = ("ang", "fru", "neu", "sad", "exc", "hap")
CATEGORY_NAME = {
    "ang": "Anger", "fru": "Frustration", "neu": "Neutral", "sad": "Sadness", "exc": "Excited",
    "hap": "Happiness", "sur": "Surprise", "oth": "Other", "fea": "Fear", "dis": "Disgust",
}
#: Emotions whose cues overlap (ang/fru, exc/hap, neu/sad): used for wording, delivery, evaluators.
NEIGHBOURS = {
    "ang": ("fru",), "fru": ("ang", "neu"), "neu": ("sad", "fru"), "sad": ("neu",),
    "exc": ("hap",), "hap": ("exc", "neu"), "sur": ("exc", "hap"), "oth": ("neu",),
}
#: Mean valence, activation, dominance (1..5) that evaluators give each emotion.
VAD = {
    "ang": (1.8, 4.1, 4.0), "fru": (2.0, 3.3, 3.1), "neu": (3.0, 2.4, 2.7), "sad": (1.9, 2.1, 2.1),
    "exc": (4.2, 4.0, 3.5), "hap": (4.0, 3.0, 3.2), "sur": (3.3, 3.9, 3.0), "oth": (3.0, 3.0, 3.0),
}

# ----------------------------------------------------------------------------------------------
# Wording: the lexical profile of each emotion, neutral wording, topics, per-dialog motifs
# ----------------------------------------------------------------------------------------------

CORES = {
    "ang": (
        "I told you a hundred times not to touch it", "don't you dare talk to me like that",
        "get out of my way", "this is completely unacceptable", "you had no right to do that",
        "I am sick and tired of your excuses", "who do you think you are", "stop lying to me",
        "you did this on purpose", "I want this fixed right now", "that is an outrage",
        "you never listen to a word I say", "I'm furious with you", "don't you dare blame me for this",
        "shut up and listen to me", "you ruined everything", "I've had it with you people",
    ),
    "fru": (
        "I've been waiting here for over an hour", "this is the third time I've asked",
        "why is this so complicated", "nothing ever works the way it should",
        "I just don't understand why it takes so long", "can't you just do it",
        "I already filled out that form", "it's not fair", "I don't know what else to do",
        "I keep telling you the same thing", "this is ridiculous", "you said that last time",
        "how many times do I have to explain it", "forget it, it doesn't even matter", "I give up",
        "it's always something with you",
    ),
    "neu": (
        "I think it starts at nine", "we can talk about it later", "let me check the schedule",
        "it's on the table by the door", "I'll call them in the morning", "that sounds fine to me",
        "the office closes at five", "I read about it yesterday", "we need to decide by Friday",
        "it depends on the weather", "I'm not sure, maybe", "she mentioned it on the phone",
        "we could take the bus", "okay, I understand", "I see what you mean",
        "that's one way to look at it",
    ),
    "sad": (
        "I miss her so much", "I don't think I can do this anymore",
        "it's never going to be the same", "I just feel so empty", "nobody even called",
        "I wish things were different", "I'm sorry, I can't stop crying",
        "it hurts to even think about it", "everything reminds me of him", "I feel so alone",
        "it was my fault", "I didn't get to say goodbye", "what am I supposed to do now",
        "I'm so tired of feeling like this", "I guess it doesn't matter anymore",
    ),
    "exc": (
        "this is the best news ever", "I can't wait to tell everyone", "we actually did it",
        "oh my gosh, this is amazing", "I'm so excited I can't sit still", "let's celebrate tonight",
        "you have to see this", "this is incredible", "I've never been this thrilled",
        "we're going to have so much fun", "guess what happened", "it's finally happening",
        "yes, yes, yes", "this changes everything",
    ),
    "hap": (
        "I'm really happy for you", "that was such a lovely day", "it feels good to be home",
        "I'm glad we did this", "you always make me smile", "thank you, that's so sweet",
        "it's a beautiful morning", "I love spending time with you", "everything turned out fine",
        "we had a wonderful time", "that's nice to hear", "I feel great today",
        "it's good to see you",
    ),
    "sur": (
        "wait, what did you just say", "no way, are you serious", "I had no idea",
        "you're kidding me", "since when", "really, just like that",
    ),
    "oth": (
        "oh great, just what I needed", "sure, whatever you say", "well, that's one way to do it",
        "how very interesting", "I'm thrilled, can't you tell",
    ),
}
#: Emotion-typical openers (lexical cue) and end punctuation (weights for ".", "!", "?", "...").
OPENERS = {
    "ang": ("Hey", "Listen", "No", "Oh come on", "Damn it", "Are you kidding me"),
    "fru": ("Ugh", "Look", "Seriously", "Well", "Honestly", "Oh come on"),
    "neu": ("Okay", "Well", "So", "Um", "Alright"),
    "sad": ("Oh", "I don't know", "Well", "Yeah"),
    "exc": ("Wow", "Oh my gosh", "Yes", "Guess what", "Oh"),
    "hap": ("Oh", "Aw", "Well", "You know"),
    "sur": ("What", "Oh", "Wait"),
    "oth": ("Well", "Oh"),
}
PUNCT_MARKS = (".", "!", "?", "...")
PUNCT = {
    "ang": (0.25, 0.65, 0.10, 0.0), "fru": (0.50, 0.20, 0.25, 0.05), "neu": (0.85, 0.0, 0.15, 0.0),
    "sad": (0.55, 0.0, 0.05, 0.40), "exc": (0.15, 0.80, 0.05, 0.0), "hap": (0.50, 0.45, 0.05, 0.0),
    "sur": (0.0, 0.3, 0.7, 0.0), "oth": (0.7, 0.1, 0.0, 0.2),
}
#: Neutral wording: what an utterance says when only its delivery carries the emotion.
GENERIC = (
    "I talked to him about it this morning", "we went there on Tuesday", "it's the one on the left",
    "she said she would come by later", "I have to go back tomorrow",
    "they told me it was on the second floor", "we should get going", "I was there the whole time",
    "it's about what happened last week", "you know what I mean", "I heard it from your brother",
    "we'll see what happens", "it was in the car", "I just got back", "that's what they said",
    "I'm going to call them", "he's coming over tonight", "it took about two hours",
    "it's right here", "we talked about it", "I don't know yet", "let's see",
    "it was the same one as before", "she's still at work", "I put it in the drawer",
)
GENERIC_OPENERS = ("So", "Well", "Um", "And", "But")
#: Fillers that individual speakers attach to particular emotions (assigned per speaker at random,
#: so the same phrase means different things for different speakers: a speaker-dependent cue).
PET_PHRASES = (
    "you know", "honestly", "for crying out loud", "oh boy", "my goodness", "I mean", "man",
    "geez", "listen here", "well well", "no kidding", "holy cow", "oh dear", "good grief",
    "goodness me", "alright then", "for real", "buddy", "jeez", "you see", "look here",
    "oh brother", "hey now", "my word",
)
#: Per-dialog phrasing: a name used in one improvised dialog, and for each emotion a thing that
#: comes up whenever that emotion does in that dialog ("the rusty kettle"). Inside a dialog these
#: repeat, so a random utterance split leaks them into the test set; another session never has them.
MOTIF_NAMES = (
    "Marisol", "Dwayne", "Priya", "Colette", "Hector", "Ingrid", "Tobias", "Yolanda", "Ezra",
    "Bernadette", "Kwame", "Lucinda", "Rafael", "Sunita", "Gideon", "Mireille", "Otis", "Petra",
    "Quentin", "Rosalind", "Stellan", "Tamsin", "Ulrich", "Vivienne", "Winston", "Xiomara",
    "Yusuf", "Zelda", "Anselm", "Beatrix", "Cornelius", "Delphine", "Evander", "Fenella",
    "Gaspard", "Hortense", "Ignatius", "Juniper", "Leopold", "Marguerite",
)
MOTIF_ADJECTIVES = (
    "green", "old", "blue", "rusty", "tiny", "broken", "shiny", "wooden", "spare", "borrowed",
    "yellow", "velvet", "dusty", "striped", "silver", "plastic", "crooked", "folding", "copper",
    "woollen",
)
MOTIF_NOUNS = (
    "van", "piano", "folder", "shed", "bicycle", "clock", "locket", "ladder", "map", "blanket",
    "lamp", "box", "chair", "album", "key", "umbrella", "stove", "jacket", "fish tank", "telescope",
    "radio", "vase", "bird feeder", "mug", "chess set", "swing", "snow globe", "kettle", "leash",
    "calendar", "coat rack", "suitcase lock", "notebook", "scarf", "teapot", "compass",
)


@dataclass(frozen=True)
class Scenario:
    """An improvised scenario: topic phrases and the emotions each role tends to show."""

    number: int
    title: str
    topics: tuple[str, ...]
    role_a: dict[str, float]  # the actor wearing markers (the letter after SesNN)
    role_b: dict[str, float]


SCENARIOS = (
    Scenario(1, "a long line at the licence office",
             ("about the paperwork", "at the counter", "for my license", "in this line",
              "at window four", "with the forms"),
             {"fru": .58, "ang": .34, "neu": .04, "sad": .04},
             {"neu": .35, "fru": .42, "ang": .18, "hap": .05}),
    Scenario(2, "a partner leaving for a long deployment",
             ("about the deployment", "for six months", "at the airport", "with the letters",
              "from the base", "before you leave"),
             {"sad": .68, "neu": .15, "fru": .12, "hap": .05},
             {"sad": .55, "neu": .15, "fru": .22, "hap": .08}),
    Scenario(3, "telling a friend about an engagement",
             ("about the ring", "at the wedding", "after the proposal", "with the party",
              "for the honeymoon", "about the dress"),
             {"exc": .65, "hap": .25, "neu": .10},
             {"exc": .50, "hap": .30, "neu": .12, "fru": .08}),
    Scenario(4, "a dented car in the parking lot",
             ("about the bumper", "with the insurance", "in the parking lot", "about the dent",
              "with your car", "for the repair"),
             {"ang": .68, "fru": .27, "neu": .05},
             {"fru": .42, "ang": .30, "neu": .18, "sad": .10}),
    Scenario(5, "planning a weekend trip",
             ("about the train", "for the weekend", "at the hotel", "with the map",
              "about the schedule", "for the hike"),
             {"neu": .45, "hap": .10, "exc": .15, "fru": .30},
             {"neu": .45, "fru": .30, "hap": .10, "exc": .15}),
    Scenario(6, "the death of a close friend",
             ("about the funeral", "at the hospital", "with the flowers", "after the service",
              "about his family", "for the memorial"),
             {"sad": .72, "neu": .08, "fru": .20},
             {"sad": .52, "neu": .30, "fru": .13, "hap": .05}),
    Scenario(7, "getting a new job",
             ("about the offer", "with the salary", "after the interview", "for the new office",
              "about the promotion", "with my new boss"),
             {"exc": .65, "hap": .20, "neu": .15},
             {"exc": .45, "hap": .25, "neu": .20, "fru": .10}),
    Scenario(8, "lost luggage at the airport",
             ("about my suitcase", "with the airline", "at baggage claim", "for the claim form",
              "on that flight", "about my bag"),
             {"fru": .55, "ang": .38, "neu": .03, "sad": .04},
             {"fru": .48, "neu": .34, "ang": .18}),
)

#: Scripts: (speaker letter, intended emotion, line). Every session acts every script, so the same
#: text recurs in all five sessions, as in IEMOCAP.
SCRIPTS = {
    "script01_1": (
        ("F", "neu", "So, did you call the restaurant about tonight?"),
        ("M", "neu", "What restaurant?"),
        ("F", "fru", "The restaurant. For our anniversary. I asked you on Monday."),
        ("M", "fru", "I've had a lot going on this week, okay?"),
        ("F", "ang", "You always have a lot going on! Every single time!"),
        ("M", "fru", "That's not fair and you know it."),
        ("F", "ang", "Don't tell me what's fair. You forgot. Again."),
        ("M", "ang", "I didn't forget on purpose! Stop making me the bad guy!"),
        ("F", "fru", "I just wanted one evening. One evening without excuses."),
        ("M", "fru", "I can call them now. Maybe they still have a table."),
        ("F", "fru", "It's seven o'clock on a Friday. They won't have a table."),
        ("M", "ang", "Then what do you want me to do? Go back in time?"),
        ("F", "sad", "I want you to care. That's all I ever wanted."),
        ("M", "sad", "I do care. I'm sorry. I really am."),
        ("F", "sad", "It feels like I'm the only one trying anymore..."),
        ("M", "neu", "Let's just stay in. I'll cook something."),
        ("F", "fru", "You don't know how to cook."),
        ("M", "hap", "Then we'll order pizza and eat it on the floor like we used to."),
        ("F", "hap", "That's actually kind of sweet."),
        ("M", "hap", "Happy anniversary. I mean it."),
    ),
    "script02_2": (
        ("M", "neu", "There's a letter for you on the counter."),
        ("F", "neu", "Who is it from?"),
        ("M", "neu", "It looks like it's from the university."),
        ("F", "exc", "Oh my gosh. This is it. This is the one!"),
        ("M", "exc", "Well, open it! Come on!"),
        ("F", "exc", "I got in! I actually got in!"),
        ("M", "exc", "That's amazing! I knew you would!"),
        ("F", "hap", "I can't believe it. All that work paid off."),
        ("M", "exc", "So when does it start? Tell me everything!"),
        ("F", "sad", "September. It's across the country, though."),
        ("M", "sad", "Across the country. So you'll be gone."),
        ("F", "sad", "Only for a couple of years. We can visit."),
        ("M", "sad", "It won't be the same. You know it won't..."),
        ("F", "fru", "Why can't you just be happy for me for one minute?"),
        ("M", "fru", "I am happy for you. I'm also going to miss you."),
        ("F", "sad", "I'm going to miss you too. So much."),
        ("M", "neu", "We'll figure it out. People do this all the time."),
        ("F", "hap", "Thank you. That means a lot to me."),
        ("M", "hap", "Now let's go tell your mother before she hears it from somebody else."),
        ("F", "exc", "She's going to scream!"),
    ),
    "script03_1": (
        ("F", "neu", "Hi, I'm calling about my phone bill."),
        ("M", "neu", "Sure. Can I have your account number, please?"),
        ("F", "neu", "It's four, four, seven, two, one, nine."),
        ("M", "neu", "Thank you. What seems to be the problem?"),
        ("F", "fru", "I was charged twice for the same month."),
        ("M", "neu", "Let me look into that for you."),
        ("F", "ang", "This is the second time this has happened!"),
        ("M", "fru", "I see the charge here. It looks like a system error."),
        ("F", "ang", "A system error? I paid a late fee because of your system error!"),
        ("M", "fru", "Ma'am, I understand, but I need you to calm down."),
        ("F", "ang", "Don't tell me to calm down! I want my money back today!"),
        ("M", "fru", "I can only issue a credit. The refund takes five days."),
        ("F", "fru", "Five days. Of course it does."),
        ("M", "neu", "I'll also remove the late fee from your account."),
        ("F", "fru", "Fine. Will I at least get a confirmation?"),
        ("M", "fru", "Yes, by email, within the hour."),
        ("F", "sad", "I'm sorry I yelled. It's been a really long week."),
        ("M", "hap", "That's all right. I hope the rest of your week is better."),
        ("F", "hap", "Thanks. You've been really helpful."),
        ("M", "hap", "My pleasure. Have a wonderful evening!"),
    ),
}
