"""Understand a message once, at the chain's entrance: what is asked, about what, and what kind of
answer it needs. Every later stage reads the resulting ``Question`` instead of re-tokenising.

A patient's message is split into sentences and clauses; the *parts* are the clauses that ask
something (a "?", a question word, a request such as "tell me"); the rest is *story*. Each part gets:

- ``types``: what kind of answer fits ("definition", "who", "cause", ... from ``prompts/question_types.yaml``);
- ``needs``: a kind of statement the answer must contain (a price, a duration, a figure, a ranking);
- ``terms``: its content words, each with a weight: everyday words ("matter", "worth") weigh little,
  specific words ("vertebroplasty", "osteoporosis") a lot; ``specific`` terms are named things (a
  drug, a procedure, a condition, an insurer) that the corpus must contain for the part to be answered;
- ``carried``: words brought in from the story or from earlier turns when the part refers back
  ("what is it?", "the second one") — they help the search but weigh less;
- ``restated``: the part as an indirect question ("whether you will be put to sleep for it"),
  for notes that say what the source does not cover.

Before that, text-message spellings are expanded (``prompts/text_speak.yaml``), typos of corpus
words corrected (``text.Speller``) and idioms said plainly (``prompts/idioms.yaml``). No model runs
here; embeddings are computed by the chain.
"""

from __future__ import annotations

import bisect
import itertools
import re
from dataclasses import dataclass, field, replace
from functools import lru_cache

from assistant.neighbours import WordNeighbours
from assistant.restate import AUX, BE, MODALS, WH_WORDS, can_be_noun, can_be_verb, names_no_thing, restate
from assistant.sentences import punctuate
from assistant.text import (
    EVERYDAY_ZIPF,
    STOPWORDS,
    Speller,
    american,
    content_words,
    lemma_zipf,
    lemmas,
    near_common_word,
    root,
    stem,
    words,
    zipf,
)

STORY_TERM_WEIGHT = 0.5  # a word of the story the corpus uses, and no everyday one ("cement", not "back"), is carried
CARRIED_WEIGHT = 0.4  # a word carried from the story or an earlier turn counts this much
STATEMENT_WEIGHT = 1.0  # ...unless "that" points at the story: then as much as the question's own words
PROPER_NOUN_ZIPF = 4.0  # a capitalised word mid-sentence rarer than this is a name (an insurer, a brand)
RARE_ZIPF = 2.0  # a word rarer than this (a drug, a procedure, a brand) is a named thing
MAX_PARTS = 4
_EMBEDDED_WHO = re.compile(r"\b(we|i|you|they|he|she|to)\s+([a-z]+)\s+who\b", re.I)
_RELATIVE_WHO = re.compile(r"\b((?:a|an|the|any|every|one|my|your|his|her|their|our)\s+([a-z]+)|someone|somebody|anyone|"
                           r"anybody|people|those)\s+who\b", re.I)
_SAID = re.compile(r"\s+(?:that\s+|which\s+)?(?:you|it)\s+(?:mentioned|said|listed|named|gave|talked about)\b", re.I)
# "what is the (main) <noun> of/for X?": the noun names what is asked (a cause, the symptoms, a treatment)
_RELATION_OF = re.compile(r"^\W*what(?:'?s|’s| is| are| was| were)\s+(?:the\s+)?(?:[\w-]+\s+){0,3}?(?P<noun>[\w-]+)\s+"
                          r"(?:of|for|behind)\b", re.I)
MAX_CLIPPED = 3  # a clipped word that starts more corpus words than this says nothing about which one
MAX_RESTATED = 140  # a longer question is not restated in a note (the note would read as an echo)

# Words that shape a question but never say what it is about ("how long", "what kind", "tell me").
QUESTION_FILLER = frozenset(
    """time long much many kind type sort way part mean means meaning work works working happen happens
    happened go goes going use used make makes take takes taking tell explain know want like need needs
    wondering wonder thing things stuff something anything everything someone somebody anyone people
    person get gets got getting actually exactly really just basically please sorry question questions
    ask asking answer also else idea lot bit little one ones able possible normal usually typically
    generally often thank thanks hi hello okay ok guess think thought say said mentioned told heard
    read reading look looking find found done normally probably definitely certainly honestly roughly ever
    even already maybe perhaps quite pretty rather well""".split()
)
_FILLER_START = re.compile(
    r"^\W*(?:(?:hi|hello|hey|dear \w+|ok|okay|so|well|right|um+|er+|also|and|but|plus|oh|yes|no|thanks)\b[\s,!.-]*"
    r"|sorry(?: to (?:be a pain|bother you|ask))?(?:,? if this is a (?:silly|stupid|daft|dumb) question)?,?\s*(?:but\s+)?"
    r"|going back(?: to (?:that|what you said|before|earlier))?\s*[,:;-]+\s*)+",
    re.I)
_REQUEST = re.compile(
    r"^\W*(?:(?:can|could|would|will) (?:you|someone|somebody|anyone|anybody) (?:please )?(?:tell|explain|let)"
    r"(?: (?:me|us))?(?: know)?(?: about)?\b,?\s*"
    r"|(?:please )?(?:tell|explain to|let) (?:me|us)(?: know)?(?: more)?(?: about)?\b,?\s*"
    r"|(?:please )?explain\b\s*|i(?:'d| would) (?:like|love) to know\b\s*|i (?:want|need) to know\b\s*"
    r"|i(?:'m| am)? (?:was |just )?wondering(?: if| whether)?\b,?\s*|i wonder(?: if| whether)?\b\s*"
    r"|do you know(?: if| whether)?\b\s*|any idea(?: if| whether)?\b\s*|quick question:?\s*"
    r"|(?:one|another|my) (?:more )?question(?: is)?:?\s*)+", re.I)
# how to say it, not what is asked: "what is it exactly, in plain words please?"
_HOW_TO_SAY = re.compile(r",?\s*\b(?:in (?:plain|simple|easy|layman'?s|lay|normal|everyday|basic|ordinary) "
                         r"(?:english|words|terms|language)|in a nutshell|simply put|in short|like i'?m (?:five|5|a child)|"
                         r"for (?:a )?(?:layman|layperson|beginner|dummies))\b(?:\s*(?:please|pls|plz)\b)?", re.I)
_ANAPHOR = re.compile(r"\b(it|its|it's|they|them|their|theirs|those|these|this|that|he|she|his|her|him|"
                      r"the procedure|the operation|the condition|the same|this one|that one|which one|which ones|"
                      r"the two|both|either)\b", re.I)
# "it", "this", "that" point at a thing, never at a person: told "my GP mentioned kyphoplasty… what is it?",
# the patient asks about kyphoplasty, not about the GP
_THING_ANAPHOR = re.compile(r"\b(it|its|it's|this|that|this one|that one|the procedure|the operation|the condition)\b", re.I)
_CLITIC_HOSTS = frozenset({"what", "that", "who", "where", "when", "how", "there", "it", "he", "she"})  # take "'s"
_AGENT_NOUN = re.compile(r"^[a-z]{4,}(?:ists?|icians?)$", re.I)  # "oncologist", "physician", "dietician": a person
_SUBJECT_NOUNS = frozenset({"procedure", "procedures", "operation", "operations", "treatment", "surgery"})  # "the procedure"
# "is that why…?", "what's that got to do with…?", "does that mean…?": "that"/"this" standing alone points
# at what was just said; in a message that tells a story first, at the story ("His cancer has spread to his
# spine. Is that what made the bone break?"), whose words are then what is asked about, not background
_DEMONSTRATIVE = re.compile(r"\b(?P<before>\w+)?\s*\b(?:that|this)(?P<clitic>['’]s)?\b\s*(?P<after>[a-z]*)", re.I)
# text-speak "4"/"2" for "for"/"to": a lone digit after a word, before a word that cannot follow a number ("is it
# good 4 me", "talk 2 the nurse"), or ending a wh-question, where English strands its preposition ("what does VCF
# stand 4?", "wot's it 4"); "4 weeks", "she had 2 of them", "my score was 4" stay numbers
_DIGIT_WORD = re.compile(r"(?<=[A-Za-z] )(?P<digit>[24])(?=\s+(?:me|you|u|it|that|this|the|a|an|him|her|them|us|my|your|"
                         r"ur|his|their|what|how|when|where|why|who|sure)\b)"
                         r"|(?P<wh>(?:^|(?<=[.!?]\s))(?:what|wot|wat|who|which|where)(?:['’]?s)?\b[^.!?\d]*?[A-Za-z] )"
                         r"(?P<last>[24])(?=\s*(?:[?!.]|$))", re.I)
_BEFORE_NUMBERS = frozenset("of in on at by about than from over under around after before until till within for to "
                            "only just maybe like level number grade stage score type size step week day year page "
                            "was is are were be".split())
# "is my sister right?", "was he just being kind?", "is that true?" ("is it true that X?" asks about X itself)
_CLAIM_CHECK = re.compile(r"\b(?:is|was|are|were)\s+(?:he|she|they|my\s+\w+|the\s+\w+)\s+(?:just\s+)?(?:right|correct|wrong|"
                          r"being (?:honest|straight|truthful|kind|nice))\b"
                          r"|\b(?:is|was)\s+(?:it|that|this)\s+(?:right|correct|true)\b(?!\s+that\b)", re.I)
_PERSON_ANAPHOR = re.compile(r"\b(they|them|their|theirs|he|she|his|her|him|who)\b", re.I)
# "can I drive after?", "will it hurt afterwards?": a time word left without its event means the one
# talked about (in a one-topic corpus, its subject)
_DANGLING = re.compile(r"\b(after|afterwards?|before|beforehand)\W*$", re.I)
# words someone quotes from what they were told ('through the skin', "a day case"): what "that" asks about
_QUOTED = re.compile(r"(?:^|(?<=[\s(]))['‘\"“]([^'’\"”]{3,60})['’\"”](?=[\s.,;:!?)]|$)")
# "what's the difference between X and Y?", "X vs Y", "how does X compare with Y?", "X vs Y, what's the diff"
_DIFFERENCE = r"(?:main |real |big )?diff\w*"  # "difference", "the main diff"
_DIFF_TAIL = re.compile(rf"[\s,;:-]*(?:so\s+)?(?:what'?s|whats|what is|what are) the {_DIFFERENCE}\W*$", re.I)
_COMPARE = re.compile(
    r"\b(?:(?:the |any |a )?(?:main |real |big )?differences? between|compare|comparing)\s+"
    r"(?P<a>.+?)\s+(?:and|with|to|vs\.?|versus)\s+(?P<b>[^?]+?)\W*$"
    r"|^\W*(?:(?:what|how) about\s+)?(?P<a2>[^,?]+?)\s+(?:vs\.?|versus)\s+(?P<b2>[^?]+?)\W*$"
    r"|^\W*(?:how (?:does|do|would|is|are) )?(?P<a3>[^,?]+?)\s+(?:compared?|differs?|different)\s+(?:with|to|from)\s+"
    r"(?P<b3>[^?]+?)\W*$"
    # "and the other two?" resolved to "and A and B?": what each one is
    r"|^\W*(?:and|also|so|what about|how about|tell me about|and what about)\s+(?P<a4>[^,?]+?)\s+and\s+(?P<b4>[^,?]+?)\W*$",
    re.I)
MAX_COMPARED_WORDS = 6
# a comparison that names neither thing ("my GP mentioned vertebroplasty. What's the difference?",
# "which is better?"): about the named things of the story told before it (after an answer, what
# "the difference" is between is not known: it stays unanswered)
_OPTIONS = re.compile(r"\b([a-z][\w-]+)\s+(?:or|vs\.?|versus|and)\s+(?:a |an |the |some )?([a-z][\w-]+)")
_BARE_COMPARISON = re.compile(
    rf"^\W*(?:so\s+|and\s+|ok\s+|okay\s+)?(?:what'?s|whats|what is|what are|is there|are there)\s+(?:a |any |the )?"
    rf"{_DIFFERENCE}(?:\s+then)?\W*$"
    r"|^\W*(?:so\s+|and\s+)?(?:which|what)(?:'s| is| one is| would be)\s+(?:better|best|safer)\W*$"
    r"|^\W*(?:so\s+|and\s+)?how do(?:es)? (?:they|it|that|these|those|the two) compare\W*$", re.I)
_HEDGES = re.compile(r"\b(actually|really|exactly|just|basically|honestly|even|ever|precisely)\s+", re.I)
_RECALL = re.compile(r"\b(what was that|what did you (say|mean)|you (said|mentioned)|say (that|it) again|repeat (that|it)|"
                     r"the (bit|part) about|go over|remind me|is (that|this|it) (why|because|what|the reason)|"
                     r"(does|would|could) (that|this) (mean|explain)|so (that|this)'?s? (is )?why)\b", re.I)
# a statement put as a question after an answer checks that answer ("so it holds the bone up?", "ok so they
# use a needle?"): "so" straight before a subject, not before an auxiliary ("so is it safe?" asks anew)
_CHECKING = re.compile(r"^\W*(?:(?:ok|okay|right|oh|ah|ahh|i see)\W+)?so\s+(?:it|they|that|this|you|he|she|the\s+\w+)\b"
                       r"[^?]*\?\W*$", re.I)
# "what's it called again?", "who were the three doctors again?": a question ending in "again" asks
# to be reminded of something already said (not "can it be done again?": no wh-word and copula)
WH_AGAIN = re.compile(r"\b(?:what|who|which|where)(?:['’]s|\s+(?:is|was|are|were|did you call|do you call))\b"
                      r"[^?.!]*\bagain\b(?=\s*(?:[?,.!]|$))", re.I)
# asking to hear part of an answer again: the words that ask are not what is asked about
# ("remind me what you said about the pain?", "could you repeat the part about nerve roots?")
# "repeat", "go over" ask again only with what they ask for: "Repeat fractures: are they common?" is no request
_RECALLING = re.compile(r"^\W*(?:(?:can|could|would|will)\s+you\s+(?:please\s+)?)?"
                        r"(?:remind\s+me(?:\s+(?:of|about))?"
                        r"|(?:repeat|go\s+back\s+(?:to|over)|go\s+over|say\s+again)"
                        r"(?=\s+(?:what|the\s+(?:bit|part|thing)s?|that|it|this)\b))"
                        r"(?:\s+(?:what|the\s+(?:bit|part|thing)s?)(?:\s+(?:that\s+)?you\s+(?:said|mentioned|told\s+me|wrote))?"
                        r"(?:\s+(?:about|on|regarding))?)?\b\s*", re.I)
# "what did you say about X?", "what was that about X?", "what were you saying about X?": asking to hear
# about X again, when X is no question of its own ("what did you say about the cement, is it safe?" asks that)
_WH_RECALLING = re.compile(r"^\W*(?:what\s+(?:did|do)\s+you\s+(?:say|mean|mention|tell\s+(?:me|us)|write)\s+"
                           r"(?:about|on|regarding)|what\s+(?:was|is)\s+(?:that|it|the\s+(?:bit|part|thing))\s+"
                           r"(?:(?:that\s+)?you\s+(?:said|mentioned)\s+)?(?:about|on|regarding)"
                           r"|what\s+were\s+you\s+saying\s+about)\b\s*", re.I)
# a clause about what the assistant said, and a question that only asks what it meant
_YOU_SAID = re.compile(r"\byou (said|mentioned|talked about|were talking about|were saying|wrote|listed|brought up|"
                       r"referred to|spoke about)\b", re.I)
_BARE_RECALL = re.compile(r"^\W*(?:(?:sorry|so|and|but|ok|okay|um|erm)\W+)*"
                          r"(?:(?:what|which)\s+(?:did|do)\s+you\s+mean(?:\s+by\s+(?:that|it|this))?"
                          r"|what(?:['’]s|\s+is|\s+was)\s+that(?:\s+about)?|meaning what|how so"
                          r"|what\s+does\s+(?:that|it)\s+mean|can\s+you\s+explain(?:\s+that)?)"
                          r"(?:\s+(?:exactly|again|please))*\W*$", re.I)
# "ask the surgeon", "tell my GP", "check with the doctor": the person addressed (``Analyzer.part``)
_ADDRESSED = re.compile(r"\b(?:ask|tell|check with|speak to|speak with|talk to|talk with)\s+"
                        r"(?:the|my|your|our|his|her|a|an)\s+([a-z]+)\b", re.I)
# "what else can cause it?" after an answer: others of the kind its lead gave, as "any others?" asks
_WHAT_ELSE = re.compile(r"^\W*(?:(?:and|so|but|ok|okay|n)\s+)?(?:what|anything|something|who|which)\s+else\b", re.I)
OTHER_ONES = re.compile(r"^\W*(?:and\s+)?(?:are there\s+|is there\s+)?(?:(?:any|what|which|some)\s+)?others?\b"
                        r"(?!\s+than\b)", re.I)  # "other symptoms?", not "other than that, ..."
# "what causes it apart from osteoporosis?": the thing after it is known; the answer is about the others
_EXCEPT = re.compile(r"\b(?:apart from|aside from|other than|besides|except(?: for)?|excluding|not counting)\s+"
                     r"((?:[\w'’-]+\s*){1,4}?)(?=\s*(?:[?,.;!]|\bthough\b|\bthen\b|\bwhat\b|\bwho\b|\bhow\b|$))", re.I)
_MORE = re.compile(r"\b(tell me more|more about|what else|anything else|something else|any more|anymore|"
                   r"(?:any|what|which|some|are there|were there) others?\b|other (things|ways|reasons))\b", re.I)
_CLAUSE_SPLIT = re.compile(
    r"(?<=[?!])\s*|(?<=[.;])\s+|\n+|,\s+(?=(?:what|who|how|why|when|where|which|is|are|can|could|do|does|will|would|should)\s)"
    # an aside about oneself after the question ("when can I go back to work, I'm a cleaner"), or after a laugh
    r"|,\s+(?=(?:i'm|im|i am|i've|ive|i have|i was|i work|we're|we've)\s)|\s+(?:lol|haha+|lmao)\b\W*"
    # an indirect question after a statement ("I'm not dizzy at all, just wondering what fluoroscopy is for")
    r"|,\s+(?=(?:just|only|really)\s+(?:wondering|curious|wanted to know|want to know|asking)\b)"
    r"|,?\s+(?:and|also|plus|or|but)\s+(?=(?:also\s+|\w+ly\s+)?(?:what|who|how|why|when|where|which|"
    r"is|are|can|could|do|does|will|would|should|has|have)\b)", re.I)
_QUESTION_START = re.compile(rf"^\W*(?:{'|'.join(WH_WORDS + AUX)})\b", re.I)
_RELATIVE_WORDS = {"which", "who", "whom", "whose", "where", "when"}
_PRONOUN_SUBJECTS = {"i", "you", "he", "she", "it", "we", "they", "there"}
_SUBJECTS = {"i", "you", "he", "she", "it", "we", "they", "this", "that", "there", "these", "those", "the", "a", "an",
             "my", "your", "his", "her", "its", "our", "their", "someone", "people", "anyone"}


@dataclass(frozen=True)
class Term:
    word: str  # as typed (lower case, corrected)
    stem: str
    weight: float  # how much the word says what is asked (0..1)
    specific: bool  # a named thing the corpus must contain
    carried: bool = False  # from the story or an earlier turn
    alternatives: frozenset[str] = frozenset()  # stems of clinical words for a lay word ("cut" -> "incis")
    story: bool = False  # carried from the story told in the same message ("...vertebroplasty. What's the difference?")
    generic: bool = False  # a named thing that only points at the subject: "the procedure"
    kind: bool = False  # names the kind of answer asked ("symptoms" in "what are the symptoms of X?"), not a thing
    pointed: bool = False  # from the story "that" points at ("...thin bones. Is that why?"): asked about


def in_vocabulary(term: Term, stems: frozenset[str], roots: frozenset[str]) -> bool:
    """Some word of a vocabulary (its ``stems``, and their derivational ``roots``) matches the term by stem
    or word family, or is one of its clinical names."""
    return bool(term.stem in stems or root(term.stem) in roots or term.stem in roots or term.alternatives & stems)


@dataclass(frozen=True)
class Part:
    """One thing asked."""

    text: str  # the clause as asked (corrected, wrappers such as "can you tell me" removed)
    search: str  # what is searched: the clause plus carried words
    types: tuple[str, ...]
    needs: tuple[str, ...]
    terms: tuple[Term, ...]
    echo: bool = True  # False: never restate this part in a note (the message held an injection)
    compares: str = ""  # the comparison this part is one side of ("the difference between X and Y")
    # the same clause read without the story, then with only the sentence just before it, when the story names
    # things ("He's on warfarin. ...")
    alone: tuple[Part, ...] = ()
    elliptic: bool = False  # ends on a time word without its event ("can I drive after?"): about the subject
    told: str = ""  # the story told before it in the same message, as written
    about_story: bool = False  # "it"/"that" points at a named thing of the story ("I take prednisolone. What does it do?")

    @property
    def restated(self) -> str:
        """The part as an indirect question for notes ("whether you will be put to sleep for it"), or ""
        (not echoed, too long, or not a question). Worked out only when a note needs it."""
        if not self.echo:
            return ""
        text = restate(self.text)
        return text if len(text) <= MAX_RESTATED else ""

    @property
    def asked_terms(self) -> tuple[Term, ...]:
        """The words asked about: the part's own and the story's that "that" points at."""
        return tuple(t for t in self.terms if not t.carried or t.pointed)

    @property
    def specific(self) -> tuple[Term, ...]:
        """Named things the part asks about: its own; failing those, the ones of the same message's
        story it refers to ("...offered vertebroplasty. What's the difference?"). A part that names
        its own ("why send him to a neurosurgeon?") is not about the story's MRI; naming only the
        subject ("...on alendronate. Will he stop it before the procedure?") is not naming its own."""
        own = tuple(t for t in self.terms if t.specific and not t.carried)
        if own and not all(t.generic for t in own) and not self.about_story:
            return tuple(t for t in own if not t.kind)  # "what symptoms ...?" names the kind of answer, no thing
        return own + tuple(t for t in self.terms if t.specific and t.story)


@dataclass(frozen=True)
class Question:
    message: str  # the message as analysed: cleaned, text speak expanded, a follow-up's list references resolved
    text: str  # after text-speak expansion and typo correction
    parts: tuple[Part, ...]
    story: tuple[str, ...] = ()
    follow_up: bool = False
    previous: str = ""  # the assistant's previous answer
    recall: bool = False  # the patient asks to hear part of it again ("what was that about X?"): repeats score more
    more: bool = False  # the patient asks for more ("tell me more", "what else?"): repeats score less
    others: bool = False  # ...for others of the kind just given ("any others?"): only the answer's lead was given
    listed: tuple[str, ...] = ()  # the earlier list the message picked an item from: a sentence naming them all is no answer
    excluded: frozenset[str] = frozenset()  # stems of what the patient set aside ("apart from osteoporosis")
    meta: dict = field(default_factory=dict, compare=False)

    @property
    def search(self) -> str:
        return " ".join(p.search for p in self.parts)


def set_aside(text: str, parts: list[Part]) -> frozenset[str]:
    """Stems of the content words the patient sets aside in a sentence that asks ("any other causes apart
    from osteoporosis?", "besides the radiologists, who does it?"): known already, so no answer to lead
    with. Not in the story: "apart from the pain she's well. Who does it?" sets nothing aside."""
    asking = " ".join(s for s in re.split(r"(?<=[.?!])\s+", text) if any(p.text in s for p in parts))
    return frozenset(stem(w) for m in _EXCEPT.finditer(asking) for w in content_words(m.group(1)))


class Analyzer:
    """Builds ``Question``s for one corpus (its vocabulary, topic words and typo targets)."""

    def __init__(self, prompts, vocabulary: frozenset[str], topic_stems: set[str],
                 medical_terms: frozenset[str], default_context: str = "",
                 neighbours: WordNeighbours | None = None) -> None:
        self.glossary = [([" ".join(words(p)) for p in entry["lay"]], [str(c) for c in entry["clinical"]])
                         for entry in prompts.data("lay_terms.yaml") or []]
        self._stemmed_glossary = [[" ".join(_base(w) for w in ph.split()) for ph in phrases] for phrases, _ in self.glossary]
        self._glossary_patterns = [[_gapped(st) for st in stemmed] for stemmed in self._stemmed_glossary]
        data = prompts.data("question_types.yaml", ("types", "needs"))
        self.types = {name: re.compile(t["question"], re.I) for name, t in data["types"].items()}
        self.people = re.compile(data["types"]["who"]["answer"], re.I)  # the words that answer "who?": persons
        # the words a source's headings name each kind of answer with ("Symptoms", "Causes", "Treatment")
        self.kinds = {name: re.compile(t["heading"], re.I) for name, t in data["types"].items() if t.get("heading")}
        self.needs = {name: re.compile(n["question"], re.I) for name, n in data["needs"].items()}
        self.need_unless = {name: re.compile(n["unless"], re.I) for name, n in data["needs"].items() if n.get("unless")}
        self.need_ignore = {name: re.compile(n["ignore"], re.I) for name, n in data["needs"].items() if n.get("ignore")}
        self.text_speak: dict[str, str] = {str(k): str(v) for k, v in (prompts.data("text_speak.yaml") or {}).items()}
        idioms = {str(k): str(v) for k, v in (prompts.data("idioms.yaml") or {}).items()}
        self._idioms = re.compile(r"\b(" + "|".join(re.escape(k).replace(r"\ ", r"\s+") for k in
                                                   sorted(idioms, key=len, reverse=True)) + r")\b", re.I) if idioms else None
        self._plain = {" ".join(k.lower().split()): v for k, v in idioms.items()}
        lay_words = frozenset(w for phrases, _ in self.glossary for p in phrases for w in p.split())
        self.speller = Speller(vocabulary, medical_terms, lay_words)
        self.vocabulary = vocabulary
        self._sorted_vocabulary = sorted(vocabulary)
        self.corpus_stems = frozenset(stem(w) for w in vocabulary)
        self._corpus_roots = frozenset(root(s) for s in self.corpus_stems)
        self.neighbours = neighbours  # everyday words matched to corpus words by meaning ("choice" -> "choosing")
        self.topic_stems = topic_stems
        self.medical_terms = medical_terms
        self.default_context = default_context  # what "it" means in a first message (a one-document corpus's title)

    # -- the whole message ---------------------------------------------------------------------
    def analyse(self, message: str, context: str = "", previous: str = "", listed: tuple[str, ...] = ()) -> Question:
        """``context``: what the conversation was about (from the rewriter), carried into parts that
        refer back; ``previous``: the assistant's previous answer; ``listed``: the list of an earlier answer
        that the message picked an item from ("the second one")."""
        text = punctuate(self.plain(self.normalise(message)))  # "…for a scan what is it" -> "…for a scan. what is it"
        clauses = _rejoin([c.strip() for c in _CLAUSE_SPLIT.split(text) if c and c.strip(" ,.;-")] or [text])
        asking = self._asking(clauses)
        folded = _fold(clauses, asking, bool(previous))
        recalled = folded != clauses  # asks about what an earlier answer said: a follow-up
        if recalled:
            clauses, asking = folded, self._asking(folded)
        parts, story = [], [c for i, c in enumerate(clauses) if i not in asking]
        for i in asking[:MAX_PARTS]:
            before = " ".join(c for j, c in enumerate(clauses) if j < i and j not in asking)
            asked_before = " ".join(clauses[j] for j in asking if j < i)
            compared = _compared(clauses[i])
            if compared:  # "what's the difference between X and Y?", "and A and B?": what each one is
                things, contrast = compared
                parts += [replace(self.part(f"what is {thing}?", context, before), compares=clauses[i] if contrast else "")
                          for thing in things]
            else:
                part = self.part(clauses[i], context, before, asked_before)
                if any(t.story and t.specific for t in part.terms):
                    # read it alone too (``Grounder``: the story's things): with only the story just told, if more came first
                    last = next((clauses[j] for j in range(i - 1, -1, -1) if j not in asking), "")
                    stories = ("", last) if last != before else ("",)
                    part = replace(part, alone=tuple(self.part(clauses[i], context, story, asked_before)
                                                     for story in stories))
                parts.append(part)
        parts = parts[:MAX_PARTS]
        # "remind me what you said about the pain?": about the last answer, not a question of its own
        again = bool(previous) and any(_hears_again(clauses[i]) for i in asking[:MAX_PARTS])
        recall = bool(previous and (_RECALL.search(text) or WH_AGAIN.search(text) or _CHECKING.match(text)))
        return Question(message, text, tuple(parts), tuple(story), bool(context) or recalled or again, previous,
                        recall=recall, more=bool(previous and _MORE.search(text)), listed=listed,
                        others=bool(previous and (OTHER_ONES.match(text) or _WHAT_ELSE.match(text))),
                        excluded=set_aside(text, parts))

    def normalise(self, message: str) -> str:
        message = _DIGIT_WORD.sub(_digit_word, message)
        expanded = re.sub(r"[A-Za-z0-9']+", lambda m: self._expand(m.group(0)), message)
        return self.speller.correct(expanded)

    def plain(self, text: str) -> str:
        """Idioms said plainly (``prompts/idioms.yaml``): "I'm scared stiff" -> "I'm very scared"."""
        if self._idioms is None:
            return text
        return self._idioms.sub(lambda m: self._plain[" ".join(m.group(0).lower().split())], text)

    def _expand(self, token: str) -> str:
        low = token.lower()
        if low not in self.text_speak and low.endswith("s") and self.text_speak.get(low[:-1], "").lower() in _CLITIC_HOSTS:
            return self.text_speak[low[:-1]] + "'s"  # "'s" typed onto a short form: "wots" -> "what's"
        return self.text_speak.get(low, token)

    def _asking(self, clauses: list[str]) -> list[int]:
        """The clauses that ask something (failing any, the last one); the rest is story."""
        return [i for i, c in enumerate(clauses) if self._asks(c) and not _told(clauses, i)] or [len(clauses) - 1]

    def _asks(self, clause: str) -> bool:
        if not re.search(r"[A-Za-z]", clause):
            return False
        core = _FILLER_START.sub("", clause)
        request = _REQUEST.sub("", core)
        # "when you went through the list, | what was ...?": a time clause that asks nothing ("when can I drive" asks)
        time_clause = bool(re.match(r"^\W*when\b", request, re.I)) and _relative(request)
        asks_itself = bool(_QUESTION_START.match(request)) and not time_clause
        return (("?" in clause and bool(core.strip(" ?"))) or asks_itself or request != core
                or bool(re.match(r"^\W*(tell|explain|describe|list|give)\b", core, re.I)))

    # -- one part --------------------------------------------------------------------------------
    def part(self, clause: str, context: str = "", story: str = "", asked_before: str = "") -> Part:
        """One asked clause. When it refers back ("what is it?"), it carries the subject of the
        conversation (``context``: every word of it that the corpus knows), of the story told before it
        in the same message (only its named things and lay names of corpus concepts: "my GP mentioned
        kyphoplasty" gives "kyphoplasty", not "GP"; "a crushed bone" gives "crushed"; and every word the
        story quotes, when "it"/"that" points at a thing) and, in a library, of the questions asked
        before it in the message ("what causes gout and how is it treated?"); failing all, the corpus's
        own subject (one-document corpora)."""
        core = _FILLER_START.sub("", clause)
        as_typed, heard = core, _recalled(core)
        recalled = heard != core  # "what did you say about success rates?" asks what was said, not for the rates
        core = _HOW_TO_SAY.sub("", _REQUEST.sub("", heard)).strip() or clause.strip()
        own, expansion = self.with_glossary(core, self.terms(core, clause))
        # "what should I ask the surgeon?": the person asked is who answers, not what is asked about (weighs as a
        # word carried from earlier does)
        addressed = {m.group(1).lower() for m in _ADDRESSED.finditer(core) if self.people.fullmatch(m.group(1))}
        own = [replace(t, weight=t.weight * CARRIED_WEIGHT, specific=False) if t.word in addressed else t for t in own]
        glossed = self._glosses(core)
        own = [replace(t, specific=False) if t.word in glossed else t for t in own]
        own = [replace(t, generic=True) if t.specific and t.word in _SUBJECT_NOUNS
               and re.search(rf"\b(the|this|that)\s+{t.word}\b", core, re.I) else t for t in own]
        # the word that names the kind of answer ("what are the symptoms of ...?") is no thing the corpus must name
        types = self.types_of(core)
        if context and OTHER_ONES.match(core) and types in ((), ("definition",)):
            types = self.types_of(context) or types  # "any others?" after "what's the main cause?": other causes
        kinds = [self.kinds[name] for name in types if name in self.kinds]
        own = [replace(t, kind=True) if any(rx.fullmatch(w) for rx in kinds for w in {t.word, *lemmas(t.word)}) else t
               for t in own]
        # a follow-up none of whose words the corpus knows ("which one is best?") is still about the conversation
        knows = any(t.stem in self.corpus_stems or t.alternatives & self.corpus_stems for t in own)
        bare = bool(_BARE_COMPARISON.match(core))
        # in a library (a corpus without one subject of its own, ``default_context``), "what treatments are
        # available?" after a story naming the disease is about that disease
        library = not self.default_context
        unnamed = library and any(t.kind for t in own) and not [t for t in own if t.specific and not t.kind]
        refers_back = (_refers_back(core) or (recalled and _refers_back(as_typed))  # "what was that about X?"
                       or not [t for t in own if t.weight >= 0.3] or unnamed
                       or bool(bare and self._names(story))
                       or bool(context and (not knows or OTHER_ONES.match(core))))  # "any other causes?": of what?
        # and in a library the story says which page the question is about ("I have renal artery stenosis.
        # What diet should I follow?"): its named things are carried, but required only of a question
        # that names nothing of its own
        about_story = bool(story) and library
        carried: list[Term] = []
        if refers_back or about_story:
            to_a_thing = refers_back and bool(_THING_ANAPHOR.search(core)) and not _PERSON_ANAPHOR.search(core)
            seen = {t.stem for t in own}
            # the questions asked before it in the message: in a library, what "it" can only mean ("what causes
            # gout and how is it treated?"); in a one-document corpus "it" is mostly the document's subject
            earlier = asked_before if library else ""
            # "that" is the story just told: it comes before anything said earlier in the conversation
            statement = bool(story) and points_at_statement(core)
            conversation = [(story, True), (context, False)] if statement else [(context, False), (story, True)]
            sources = [*conversation, (earlier, True)] if refers_back else [(story, True)]
            named = self._names(story) if bare or not context else []
            if refers_back and not context and not named:
                sources.append((self.default_context, False))
            # a bare comparison compares the story's options ("kyphoplasty or a brace. How do they
            # compare?"): each is a named thing, however everyday its word, since both sides are needed
            options = self._options(story, {t.word for t in named}) if bare else set()
            for text, names_only in sources:
                terms, _ = self.with_glossary(text, self.terms(text, text)) if text else ([], [])
                people = _who_and_where(text) if names_only else set()  # "Dr Osei", "in Dorset": context, never required
                terms = [replace(t, specific=True) if names_only and t.word in options else t for t in terms]
                for t in terms:
                    known = t.stem in self.corpus_stems or t.alternatives & self.corpus_stems
                    if t.stem in seen or not ((t.specific or t.alternatives & self.corpus_stems
                                               or (known and t.weight >= STORY_TERM_WEIGHT)) if names_only
                                              else known or t.specific):
                        continue
                    if names_only and to_a_thing and self.people.search(t.word):
                        continue  # the people of the story are not what "it" is
                    seen.add(t.stem)
                    # never required of the corpus: the story's people ("Dr Osei", "her oncologist") and places, a word
                    # that only says which kind of a corpus thing it is ("breast" in "breast cancer") and one
                    # that names no thing ("diagnosed" in "he was diagnosed with gout")
                    required = refers_back and t.specific and not (
                        names_only and (t.word in people or _AGENT_NOUN.match(t.word) or self._modifies(t.word, text)
                                        or names_no_thing(t.word)))
                    pointed = statement and names_only and text == story
                    carried.append(Term(t.word, t.stem, t.weight * (STATEMENT_WEIGHT if pointed else CARRIED_WEIGHT),
                                        required, True, t.alternatives, story=names_only, pointed=pointed))
            if to_a_thing:  # "the doctor said it's done 'through the skin'. What does that mean?"
                for t in self.terms(" ".join(_QUOTED.findall(story))):
                    if t.stem not in seen:
                        seen.add(t.stem)
                        carried.append(Term(t.word, t.stem, t.weight * CARRIED_WEIGHT, False, True, t.alternatives))
        # "my mum is on reclast, is that ok with kyphoplasty?": "that" is the story's thing, asked about together
        # with the corpus's own subject, which then names no thing of the part's own (as "the procedure" does not)
        if any(t.pointed and t.specific for t in carried):
            own = [replace(t, generic=True) if t.specific and t.stem in self.topic_stems else t for t in own]
        search = " ".join([core, *expansion, *(t.word for t in carried)])
        # "I take prednisolone. What does it do to my bones?": "it" is the story's thing, which the corpus must name
        points_at_story = (refers_back and bool(_THING_ANAPHOR.search(core)) and not _PERSON_ANAPHOR.search(core)
                           and any(t.story and t.specific for t in carried))
        return Part(core, search, types, self.needs_of(core, recalled), tuple(own + carried), told=story,
                    elliptic=bool(_DANGLING.search(core)), about_story=points_at_story)

    def _glosses(self, text: str) -> set[str]:
        """The words of a parenthesis after a word the corpus knows: another name for it ("SCOT deficiency
        (succinyl-CoA:3-ketoacid CoA transferase)", "GRN (progranulin)"), searched but not required."""
        out: set[str] = set()
        for m in _GLOSS.finditer(text):
            if stem(m.group(1).lower()) in self.corpus_stems:
                out |= {w.lower() for w in words(m.group(2))}
        return out

    def _modifies(self, word: str, text: str) -> bool:
        """The word only says which kind of a thing the corpus names ("breast" in "she had breast cancer"
        when the source speaks of cancer): what the source says of the thing applies, so it is not required."""
        head = re.search(rf"\b{re.escape(word)}\s+([a-z]+)\b", text, re.I)
        return bool(head) and stem(head.group(1).lower()) in self.corpus_stems and can_be_noun(head.group(1).lower())

    def _options(self, story: str, named: set[str]) -> set[str]:
        """The words of the story offered as alternatives ("X or a Y", "X vs Y", "X and Y") of which
        one is a named thing of it (``named``) or a corpus word."""
        out: set[str] = set()
        for a, b in _OPTIONS.findall(story.lower()):
            if a in STOPWORDS or b in STOPWORDS:
                continue
            if {a, b} & named or stem(a) in self.corpus_stems or stem(b) in self.corpus_stems:
                out |= {a, b}
        return out

    def _names(self, text: str) -> list[Term]:
        return [t for t in self.terms(text, text, neighbours=False) if t.specific] if text else []

    def story_things(self, question: Question) -> list[Term]:
        """The named things of the story told around the question ("warfarin", "dementia"): words that
        cannot be verbs ("aches", "bruise", "travels" can be what someone does), not its people ("Dr Osei",
        "her oncologist"). What a "not covered" note may name."""
        story = " ".join(question.story)
        people = _who_and_where(story)
        return [t for t in self._names(story) if t.word not in people and not _AGENT_NOUN.match(t.word)
                and not self.people.search(t.word) and not can_be_verb(t.word)]  # nor "my GP", "in Leeds"

    def with_glossary(self, text: str, terms: list[Term]) -> tuple[list[Term], list[str]]:
        """Lay phrases of the text ("same day", "bone glue") get their clinical words as alternatives;
        the clinical words are also returned, to widen the search."""
        typed = " " + " ".join(words(text)) + " "
        # by stem of the verb's dictionary form: "thinning bones" is "thin bones", "bending over" is "bent over"
        low = " " + " ".join(_base(w) for w in words(text)) + " "
        expansion: list[str] = []
        out = list(terms)
        for (phrases, clinical), stemmed, patterns in zip(self.glossary, self._stemmed_glossary, self._glossary_patterns):
            # by stem, "compressed" is also "compression": a clinical word typed is not its own lay name
            clinical_typed = {" ".join(_base(w) for w in words(c)) for c in clinical if f" {' '.join(words(c))} " in typed}
            found = [ph for ph, st, rx in zip(phrases, stemmed, patterns) if rx.search(low) and st not in clinical_typed]
            if not found:
                continue
            alternatives = frozenset(stem(w) for c in clinical for w in words(c))
            expansion += [c for c in clinical if c not in expansion]
            phrase_stems = {_base(w) for ph in found for w in words(ph)}
            hit = False
            for i, t in enumerate(out):
                if (t.stem in phrase_stems or _base(t.word) in phrase_stems) and not t.carried:
                    out[i] = Term(t.word, t.stem, t.weight, t.specific and not alternatives & self.corpus_stems,
                                  alternatives=t.alternatives | alternatives)
                    hit = True
            if not hit:  # a phrase of everyday words only ("go home", "put to sleep")
                out.append(Term(found[0], stem(found[0].split()[-1]), 0.8, False, alternatives=alternatives))
        return out, expansion

    def types_of(self, text: str) -> tuple[str, ...]:
        text = _HEDGES.sub("", text)  # "what do they actually do?" asks what "what do they do?" asks
        found = tuple(name for name, rx in self.types.items() if rx.search(text))
        if "who" in found and not self.types["who"].search(_embedded_who(text)):
            found = tuple(t for t in found if t != "who")  # "what should we check when we pick who does it?": advice
        relation = _RELATION_OF.match(text)
        if relation and "definition" in found and any(self.types[t].search(relation.group("noun")) for t in found
                                                      if t != "definition"):
            # "what's the most common cause of X?" asks for the cause, not for what a cause is
            found = tuple(t for t in found if t != "definition")
        bare = re.sub(r"[?!.]+$", "", _SAID.sub("", text).strip()).split()  # "neurosurgeons you mentioned?": what they are
        if (not found and 0 < len(bare) <= 4 and not _QUESTION_START.match(text)
                and not any(can_be_verb(w.lower()) for w in bare[1:])):
            return ("definition",)  # "tell me about osteoporosis", "VCF?": what it is
        return found

    def needs_of(self, text: str, recalled: bool = False) -> tuple[str, ...]:
        """The kinds of statement the text asks for. ``recalled``: it asks what was said about them ("what did
        you say about success rates?"), so a need named by words the corpus uses is no need of a figure."""
        def asks(name: str, rx: re.Pattern) -> bool:
            seen = self.need_ignore[name].sub(" ", text) if name in self.need_ignore else text
            found = rx.search(seen)
            if not found or (name in self.need_unless and self.need_unless[name].search(seen)):
                return False
            named = content_words(found.group(0))
            return not (recalled and named and all(stem(w) in self.corpus_stems for w in named))

        return tuple(name for name, rx in self.needs.items() if asks(name, rx))

    def terms(self, text: str, original: str | None = None, neighbours: bool = True) -> list[Term]:
        """The weighted words of a text; ``neighbours=False`` skips looking up the everyday ones' nearest
        corpus words (for callers that keep only named things, which never get any)."""
        names, acronyms = _proper_nouns(original or text), _acronyms(original or text)
        out: list[Term] = []
        seen: set[str] = set()
        for w in content_words(text):
            w = w[:-2] if w.endswith("'s") else w  # "somebody's" -> "somebody"
            s = stem(w)
            if w in QUESTION_FILLER or s in seen or w in self.text_speak:
                continue
            seen.add(s)
            clipped = self.clipped(w) if zipf(w) < EVERYDAY_ZIPF else frozenset()
            out.append(Term(w, s, specificity(w), self.is_specific(w, w in names, w in acronyms),
                            alternatives=clipped))
        return self._with_neighbours(out) if neighbours else out

    def _with_neighbours(self, terms: list[Term]) -> list[Term]:
        """An everyday word the corpus lacks (no stem, family or clipped match) gets the corpus words
        nearest in meaning as alternatives (``neighbours.py``); a named thing never does."""
        if self.neighbours is None:
            return terms
        lacking = [t for t in terms if not t.specific and not in_vocabulary(t, self.corpus_stems, self._corpus_roots)]
        if not lacking:
            return terms
        near = self.neighbours.of(t.word for t in lacking)
        return [replace(t, alternatives=t.alternatives | near[t.word]) if near.get(t.word) else t for t in terms]

    def clipped(self, word: str) -> frozenset[str]:
        """The stems of the corpus words a rare word is the start of ("neuro" -> neurosurgeons, "ortho" ->
        orthopedic): patients clip long terms. Only a word of at least 4 letters that the corpus lacks,
        starting at most ``MAX_CLIPPED`` corpus words at least 3 letters longer."""
        if len(word) < 4 or word in self.vocabulary:
            return frozenset()
        start = bisect.bisect_left(self._sorted_vocabulary, word)
        following = itertools.islice(self._sorted_vocabulary, start, None)
        longer = {stem(w) for w in itertools.takewhile(lambda w: w.startswith(word), following) if len(w) >= len(word) + 3}
        return frozenset(longer) if len(longer) <= MAX_CLIPPED else frozenset()

    def is_specific(self, word: str, capitalised: bool = False, acronym: bool = False) -> bool:
        """A named thing: a medical term, a rare word (a drug, a brand), a name (an insurer) or an
        abbreviation typed in capitals ("NHS", "MRI")."""
        z = zipf(word)
        if lemma_zipf(word) >= EVERYDAY_ZIPF:
            return False  # an everyday word, or an inflection of one ("carries", "treatments")
        if acronym:
            return True
        if word in self.medical_terms or american(word) in self.medical_terms or (capitalised and z < PROPER_NOUN_ZIPF):
            return True
        if z >= RARE_ZIPF or len(word) < 5:
            return False
        return word in self.vocabulary or not near_common_word(word)  # a drug or brand, not 'docter'


def _rejoin(clauses: list[str]) -> list[str]:
    """A clause that goes on with the same subject is not a question of its own: "does that mean his
    spine is unstable | and could give way any minute?" (a modal, then straight a verb: no subject)."""
    out: list[str] = []
    for clause in clauses:
        words_ = clause.lower().split()
        if (out and not re.search(r"[.?!;]\s*$", out[-1]) and len(words_) > 1 and words_[0] in MODALS
                and words_[1] not in _SUBJECTS and can_be_verb(words_[1]) and words_[1] not in AUX
                and not words_[1].endswith("ing")):  # "can eating better stop it?": a gerund is a new subject
            out[-1] = f"{out[-1]} and {clause}"
        else:
            out.append(clause)
    return out


def _fold(clauses: list[str], asking: list[int], previous: bool) -> list[str]:
    """After an answer, a question that only asks what something said meant is asked about it, as one
    clause: "you mentioned an overlap between the specialties, | what did you mean?"."""
    out = list(clauses)
    for i in asking:
        if not (previous and _BARE_RECALL.match(out[i])):
            continue
        said = next((j for j in range(i - 1, -1, -1) if j not in asking and _YOU_SAID.search(out[j])), None)
        if said is not None:
            out[i] = f"{out[said].rstrip(' .,;')}, {out[i]}"
            out[said] = ""
    return [c for c in out if c]


def _hears_again(clause: str) -> bool:
    """Asks to hear part of an answer again, naming it without a question of its own: "could you repeat
    the part about nerve roots?", not "remind me, can the cement leak out?"."""
    core = _FILLER_START.sub("", clause)
    rest = _recalled(core)
    return rest != core and not _QUESTION_START.match(rest.lstrip(" ,;:-"))


def _recalled(core: str) -> str:
    """The clause without the words that ask to hear something again ("remind me about", "what did you say
    about"): what is asked about."""
    rest = _RECALLING.sub("", core)
    if rest == core:
        named = _WH_RECALLING.sub("", core)
        if named != core and not _QUESTION_START.match(named.lstrip(" ,;:-")):
            return named
    return rest


def _told(clauses: list[str], i: int) -> bool:
    """A clause that goes on a statement: "My cousin had a myxoma | and has spotty skin.", "my dad had a
    stroke | and now can't write or do maths." It starts with a verb whose subject is the statement's
    (no question word), does not end its own question, and its sentence ends without a question mark."""
    if i == 0 or re.search(r"[.?!;]\s*$|\n$", clauses[i - 1]) or "?" in clauses[i]:
        return False
    if _asks_itself(clauses[i]):
        return False
    rest = " ".join(clauses[i:])
    sentence_end = re.search(r"[.?!]", rest)
    return not (sentence_end and sentence_end.group(0) == "?") and not _QUESTION_START.match(clauses[i - 1])


def _asks_itself(clause: str) -> bool:
    asks = re.match(rf"^\W*(?:(?:also|now|then)\s+)?(?:{'|'.join(WH_WORDS)})\b", clause, re.I)
    return bool(asks) and not _relative(clause)


def _relative(clause: str) -> bool:
    """A relative clause inside a statement (", which showed a fracture", ", who is 82"), not a question:
    it starts with which/who/where/when and no auxiliary comes before its subject ("which doctor
    should I see", "when will I walk" are questions)."""
    tokens = re.findall(r"[a-z']+", clause.lower())
    if not tokens or tokens[0] not in _RELATIVE_WORDS:
        return False
    # "is" before "a"/"the" is a predicate ("who is a nurse"); before a pronoun it is inverted ("where is it")
    return not any(w in AUX and (nxt in _SUBJECTS if w not in BE else nxt in _PRONOUN_SUBJECTS)
                   for w, nxt in zip(tokens[1:4], tokens[2:5]))


def _compared(clause: str) -> tuple[tuple[str, str], bool] | None:
    """The two things a "what's the difference between X and Y?" / "X vs Y" question compares (True),
    or an "and A and B?" follow-up names (False); None for any other clause."""
    text = _DIFF_TAIL.sub("", clause.strip())
    m = _COMPARE.search(text)
    if not m:
        return None
    pair = (m.group("a") or m.group("a2") or m.group("a3") or m.group("a4"),
            m.group("b") or m.group("b2") or m.group("b3") or m.group("b4"))
    if m.group("a4") and any(can_be_verb(w) for t in pair for w in words(t) if w not in STOPWORDS):
        return None  # "and A and B?" names two things; "does it hurt and swell?" does not
    things = tuple(re.sub(r"^\W*(?:a|an|the)\s+|\W+$", "", t, flags=re.I) for t in pair)
    if not all(content_words(t) and len(t.split()) <= MAX_COMPARED_WORDS for t in things):
        return None
    return things, not m.group("a4")  # type: ignore[return-value]


def specificity(word: str) -> float:
    """How much a word says what is asked: 1 for rare words, about 0.3 for everyday ones."""
    return round(min(1.0, max(0.25, (7.0 - zipf(word)) / 3.5)), 3)


def _digit_word(m: re.Match[str]) -> str:
    """A ``_DIGIT_WORD`` match as the word it stands for, or unchanged after a word that takes a number."""
    name = "digit" if m.group("digit") else "last"
    before = re.search(r"([A-Za-z]+)[^A-Za-z]*$", m.string[:m.start(name)])
    if before and before.group(1).lower() in _BEFORE_NUMBERS:
        return m.group(0)  # "out of 4?", "level 4", "about 2": a number
    return (m.group("wh") or "") + ("for" if m.group(name) == "4" else "to")


def _gapped(stemmed_phrase: str) -> re.Pattern:
    """A lay phrase (by stems) with up to two words between its words: "a big open back operation" holds
    "big operation" and "open operation"."""
    return re.compile(" " + r"(?: \S+){0,2} ".join(re.escape(w) for w in stemmed_phrase.split()) + " ")


@lru_cache(maxsize=16384)
def _base(word: str) -> str:
    """The stem of a word's dictionary form as a verb ("bent", "bending" -> "bend"; "broke" -> "break"), for
    matching lay phrases whatever the tense; a word that is no verb keeps its own stem ("bones" -> "bone")."""
    from lemminflect import getAllLemmas

    lemma = getAllLemmas(word).get("VERB")  # a known verb only: no guessing ("orthopods" is no verb)
    return stem(lemma[0] if lemma else word)


def _embedded_who(text: str) -> str:
    """The text with a "who" that opens a clause after a verb taking one ("when we pick who does it", "how
    do I know who to trust") made "someone": that is what is done, not a question who does it; and one
    after a person ("a doctor who does loads of these", "someone who has had it") made "that": it says
    which person, it asks nobody's name."""
    text = _RELATIVE_WHO.sub(lambda m: f"{m.group(1)} that" if not m.group(2) or can_be_noun(m.group(2).lower())
                             else m.group(0), text)
    return _EMBEDDED_WHO.sub(lambda m: m.group(0) if not can_be_verb(m.group(2).lower()) else
                             f"{m.group(1)} {m.group(2)} someone", text)


def _refers_back(text: str) -> bool:
    """The part has a word that points back: a pronoun ("it", "they", "that" alone), not only a demonstrative
    before a noun the part names itself ("these radiology people", "this procedure"), whose thing it says."""
    for m in _ANAPHOR.finditer(text):
        word = m.group(0).lower()
        if word not in ("this", "that", "these", "those"):
            return True
        after = re.match(r"\s+([a-z]+)", text[m.end():].lower())
        if (not after or after.group(1) in STOPWORDS or after.group(1) in WH_WORDS or after.group(1) in ("one", "ones")
                or not can_be_noun(after.group(1)) or can_be_verb(after.group(1))):
            return True
    return False


def points_at_statement(text: str) -> bool:
    """ "that"/"this" stands alone, for something said, not before a noun ("is that why…?", "does that mean…?",
    "what's that got to do with…?"; not "is that doctor any good?", "that one"); or the question asks whether
    what someone said is right ("is my sister right?", "was he being honest?", "is it true?")."""
    if _CLAIM_CHECK.search(text):
        return True
    for m in _DEMONSTRATIVE.finditer(text):
        before, after = (m.group("before") or "").lower(), m.group("after").lower()
        if m.group("clitic") or not after or after in WH_WORDS or after in AUX or after in MODALS:
            return True
        if after in {"one", "ones"}:  # "that one" is an item of a list, "is that one of the causes?" the statement
            if re.match(r"\s+of\b", text[m.end():]):
                return True
            continue
        if not can_be_noun(after) or (before in AUX and can_be_verb(after) and before not in BE):
            return True  # "is that usually…", "does that mean…" (after "is", "that right" may be "that doctor")
    return False


def _titled_names(text: str) -> set[str]:
    """Names after a title ("Dr Osei", "Mrs. Khan", "Professor Lee"), lower-cased: people, not things."""
    return {m.group(1).lower() for m in _TITLED.finditer(text) if m.group(1)[0].isupper()}


def _who_and_where(text: str) -> set[str]:
    """The story's people by name ("Dr Osei", ``_titled_names``) and its places: names after a preposition
    of place ("a care home in Dorset", "lives outside Cork"), lower-cased. Context, not what is asked about."""
    return _titled_names(text) | {m.group(1).lower() for m in _PLACE.finditer(text)}


_PLACE = re.compile(r"\b(?:in|at|near|outside|around|from)\s+([A-Z][a-z'-]+)")
_GLOSS = re.compile(r"\b([A-Za-z][\w-]*)\s*\(([^()]{2,80})\)")
_TITLED = re.compile(r"\b(?:dr|mr|mrs|ms|miss|prof|professor|doctor|nurse|sister)\.?\s+([A-Z][\w'-]+)", re.I)


def _acronyms(text: str) -> set[str]:
    """Words of two to five letters typed in capitals ('NHS', 'MRI'; lower-cased), unless half the
    message is in capitals (shouting says nothing about names)."""
    words = re.findall(r"[A-Za-z]+", text)
    caps = [w for w in words if w.isupper() and 2 <= len(w) <= 5]
    return {w.lower() for w in caps} if len(caps) * 2 <= len(words) else set()


def _proper_nouns(text: str) -> set[str]:
    """Capitalised words that do not start a sentence: 'Bupa', 'Medicare' (lower-cased)."""
    found = set()
    for m in re.finditer(r"(?<![.?!]\s)(?<!^)\b([A-Z][a-z]{2,})\b", text.strip()):
        if m.start() > 0 and m.group(1).lower() not in STOPWORDS:
            found.add(m.group(1).lower())
    return found
