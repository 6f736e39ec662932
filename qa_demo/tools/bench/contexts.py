"""Questions and contexts for ``qa-demo bench``, written for this project (CC0).

English cases are fictional prose so no licence travels with them. Short contexts are 500-1,000
characters (one 384-token window), long ones 4,000-5,000 (several windows). Japanese cases come
from JSQuAD (CC BY-SA 4.0) in ../shared/data when it is there; see ``japanese_cases``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SHORT_CHARS = (500, 1000)
LONG_CHARS = (4000, 5000)


@dataclass(frozen=True)
class BenchCase:
    question: str
    context: str
    #: The answer a trained model should give; random-weight models will not, which is fine:
    #: the bench compares engines with each other on the same weights.
    expected: str
    length: str  # "short" or "long"


_LIGHTHOUSE = (
    "The lighthouse at Carrow Point was finished in 1871 after four winters of work on the "
    "granite ledge below the cliffs. Its first keeper, Thomas Elwin, kept a daily log that "
    "recorded every ship he saw, the weather at dawn and dusk, and the amount of oil burned in "
    "the lamp. The tower is thirty-eight metres tall and was built from stone quarried at "
    "Penhallow, twelve miles along the coast, which was brought by barge because the road was "
    "too steep for heavy carts. In 1923 the oil lamp was replaced by an electric light powered "
    "by a small generator, and the keepers' cottages were extended to house a radio operator. "
    "The light was automated in 1987, and the last keeper, Margaret Dunn, left the point in the "
    "spring of that year. Today the cottages are a small museum run by volunteers."
)

_RAILWAY = (
    "The Vell Valley Railway opened in 1859 to carry slate from the quarries at Ardley down to "
    "the harbour at Tresk. The line was nineteen kilometres long and climbed almost four hundred "
    "metres, so the engineers, led by Hannah Corbett, used a narrow gauge and tight curves that "
    "a standard railway could not have managed. Passenger trains were added in 1865, mostly for "
    "quarry workers and their families travelling to the market on Saturdays. The railway "
    "closed in 1946 when lorries took over the slate traffic, but a preservation society "
    "reopened the upper half of the line in 1972. Its oldest working locomotive, named Curlew, "
    "was built in Leeds in 1863 and still runs on summer weekends."
)

_BEES = (
    "Honey bees in a healthy colony divide their work by age. Young workers clean cells and "
    "feed larvae; after about two weeks they start building comb and guarding the entrance, and "
    "only in the last part of their lives do they fly out to gather nectar and pollen. A forager "
    "that finds a rich patch of flowers returns to the hive and performs a waggle dance, whose "
    "angle tells the other bees the direction of the food relative to the sun and whose length "
    "tells them the distance. In summer a worker lives for roughly six weeks, while bees born in "
    "autumn can survive the whole winter by clustering around the queen and shivering to keep "
    "the centre of the cluster warm."
)

_PRESS = (
    "When the small printing house of Aldous and Fenn opened on Market Street in 1792, it owned "
    "a single wooden press and employed three apprentices. Within ten years it was printing the "
    "town's weekly newspaper, the Wexley Courier, along with almanacs, sermons and the posters "
    "that announced cattle fairs. The business moved to a larger building near the canal in 1810 "
    "so that paper could arrive by boat, and in 1834 it bought its first iron press, which "
    "doubled the number of sheets the workers could print in an hour. Edith Fenn, the founder's "
    "granddaughter, ran the firm from 1851 until 1889 and started the series of cheap "
    "illustrated books that made its name across the county."
)

_HARWICK = " ".join(
    [
        "Harwick began as a fishing village at the mouth of the River Lune, where a shingle bank "
        "gave boats shelter from the westerly gales. The earliest record of the settlement is a "
        "tax roll of 1214 that lists eleven households and a chapel, and for the next three "
        "centuries the village grew only slowly. Its people fished for herring in the autumn and "
        "farmed the narrow strip of land between the marsh and the hills for the rest of the year.",
        "Everything changed in 1583, when the merchant Robert Gale paid for a stone quay on the "
        "north side of the river. Ships that had sailed past Harwick to the deeper harbour at "
        "Selby could now unload wool, timber and salt directly at the quay, and a market charter "
        "followed in 1590. The town hall on the square, with its open arcade for traders, was "
        "built in 1611 and still stands, although its clock tower was added much later, in 1788.",
        "The seventeenth century brought both wealth and disaster. A fire in 1652 destroyed most "
        "of the timber houses near the waterfront, and the council ruled that new buildings on "
        "the main streets must be made of brick or stone. Many of the houses that visitors admire "
        "today date from the rebuilding that followed. In 1666 plague reached the town on a ship "
        "from the Low Countries, and the parish register records more than two hundred burials "
        "in that year alone, nearly a quarter of the population.",
        "Harwick recovered in the eighteenth century as a port for the coal that came down the "
        "valley by packhorse and, after 1774, by the Lune Navigation, a canal that bypassed the "
        "shallows above the town. Shipbuilding grew alongside the coal trade. The yard founded by "
        "the Pennock family in 1781 launched more than three hundred vessels before it closed, "
        "and its largest ship, the barque Northern Star, sailed to Quebec and back nine times.",
        "The railway arrived in 1847. The station was built on reclaimed marsh to the east of "
        "the old town, and a new district of terraced streets, chapels and schools grew up around "
        "it. The line made Harwick a resort as well as a port: by 1880 excursion trains brought "
        "thousands of visitors on summer Sundays, and the promenade, the pier and the winter "
        "gardens were all built between 1868 and 1895. The pier was designed by the engineer "
        "Eliza Marr and was, at four hundred and ten metres, the longest on that coast.",
        "The twentieth century was harder. The coal trade declined after 1920, the shipyard "
        "closed in 1931, and during the Second World War the harbour was taken over by the navy "
        "for minesweepers. After the war the town council cleared many of the worst slums near "
        "the docks and built the Riverside estate, which was finished in 1958. Tourism recovered "
        "for a time, but cheap holidays abroad emptied the boarding houses in the 1970s.",
        "Since the 1990s Harwick has reinvented itself again. The old Pennock shipyard now holds "
        "a maritime museum that opened in 1998, the warehouses on the quay have become studios "
        "and flats, and a small university campus specialising in marine science opened beside "
        "the station in 2006. The population, which fell to nineteen thousand in 1991, had grown "
        "to just over twenty-four thousand by the census of 2021. The annual herring festival, "
        "revived in 1985, still takes place on the first weekend of October.",
        "Visitors who walk from the station to the quay pass most of this history in twenty "
        "minutes. The terraces of the railway district give way to the brick houses built after "
        "the fire, then to the arcade of the town hall and the narrow lanes that run down to the "
        "water. The chapel named in the tax roll of 1214 was rebuilt twice, but its tower keeps "
        "stones from the first building, and a plaque on the quay marks the spot where Robert "
        "Gale's masons laid the first course of the wall. The local history society publishes a "
        "map of the route and leads free guided walks every Saturday morning from Easter to the "
        "end of September, finishing at the museum in the old shipyard.",
        "The museum itself is the best place to see how the town earned its living. Its largest "
        "room holds a half-built fishing boat on the original slipway, with the tools of the "
        "Pennock shipwrights laid out as if the workers had just gone home for the night. Other "
        "rooms show the coal trade, the packhorse routes, the canal and its locks, and the years "
        "when crowds arrived by train for a day beside the sea. A reading room keeps the harbour "
        "master's ledgers from 1702 onwards, which record the name, cargo and home port of every "
        "ship that paid dues at the quay, and researchers come from abroad to study them.",
    ]
)

_OBSERVATORY = " ".join(
    [
        "The Kestrel Hill Observatory stands on a bare summit eight hundred metres above the "
        "plain, far from the lights of any large town. It was founded in 1894 by the astronomer "
        "Clara Whitlock, who had spent ten years measuring the brightness of variable stars from "
        "the roof of her father's house and wanted a site with steadier air. She persuaded a "
        "textile manufacturer, Samuel Priestley, to pay for the first dome and a refracting "
        "telescope with a lens of thirty centimetres, which was ground in Munich and arrived in "
        "crates carried up the hill by mules.",
        "The early years were difficult. The road to the summit washed away twice, the dome "
        "leaked in heavy rain, and the small staff lived in a wooden hut that was bitterly cold "
        "in winter. Whitlock nevertheless published a catalogue of four hundred and twelve "
        "variable stars in 1903, and its careful light curves made the observatory known across "
        "Europe. The catalogue was reprinted three times and was still used by amateur observers "
        "in the 1950s.",
        "A second, larger dome was built in 1912 to house a reflecting telescope with a mirror of "
        "one metre, paid for by a public subscription that raised money from more than six "
        "thousand donors. The mirror was cast in glass, silvered on site, and had to be cleaned "
        "and resilvered every few months because of the damp mountain air. With it the staff "
        "began to photograph faint nebulae, and in 1921 the observatory's director, Arthur Lyle, "
        "measured the spectra of forty spiral nebulae, many of which showed large shifts toward "
        "the red.",
        "During the 1930s the observatory became a training ground for young astronomers. Its "
        "summer school, which began in 1932, took twelve students each year and taught them to "
        "use the telescopes, develop plates and reduce their measurements by hand. Many of the "
        "students later ran observatories of their own. The school was suspended during the war, "
        "when the domes were closed and the staff worked on navigation tables for the air force, "
        "and it reopened in 1947.",
        "After the war, radio astronomy changed the field. In 1954 the observatory added a radio "
        "dish of twelve metres on the northern shoulder of the hill, and its engineers built "
        "their own receivers from surplus radar parts. The dish mapped the hydrogen in the plane "
        "of the galaxy and, in 1963, detected an unexpected burst of radio noise from the "
        "direction of a distant galaxy, a result that was confirmed by two other observatories "
        "in the following year.",
        "Light from the growing towns on the plain slowly spoiled the sky. By the 1980s the "
        "brightness of the background had doubled, and the large reflector was used mostly for "
        "teaching. The observatory's research moved to shared telescopes abroad, which staff "
        "operated remotely from the control room. In 1999 the old refractor was restored by "
        "volunteers, and the first dome opened to the public on clear Friday evenings.",
        "Today the Kestrel Hill Observatory is run by a charitable trust. About fifteen thousand "
        "people visit each year, school groups use the planetarium that was built in 2011, and "
        "the radio dish, fitted with new receivers in 2016, is used by students to measure the "
        "rotation of the galaxy. Whitlock's notebooks, all sixty-three of them, are kept in the "
        "library beside the original dome.",
        "The trust has plans for the next decade. It wants to replace the roof of the second "
        "dome, which still leaks in heavy rain just as the first one did in Whitlock's day, and "
        "to build a small residence so that visiting students can stay on the hill for a week "
        "at a time. It is also digitising the archive of more than forty thousand glass plates "
        "taken between 1895 and 1985, so that astronomers can compare old positions and "
        "brightness with modern measurements. The first ten thousand plates were scanned by "
        "volunteers in 2022, and several variable stars missing from modern surveys have already "
        "been found on them.",
        "For visitors the hill is also a place to walk. A footpath climbs from the village of "
        "Ashby through pine woods and open moor, passing the ruined hut where the first staff "
        "spent their winters, and the view from the summit on a clear day reaches the sea. The "
        "trust asks walkers to keep to the path near the radio dish, whose receivers are "
        "sensitive to the noise from phones, and to leave the car park before dusk on public "
        "evenings so that headlights do not spoil the observations.",
    ]
)

ENGLISH_CASES = (
    BenchCase("When was the lighthouse automated?", _LIGHTHOUSE, "1987", "short"),
    BenchCase("Who led the engineers of the railway?", _RAILWAY, "Hannah Corbett", "short"),
    BenchCase("How long does a worker live in summer?", _BEES, "roughly six weeks", "short"),
    BenchCase("Who ran the firm from 1851 until 1889?", _PRESS, "Edith Fenn", "short"),
    BenchCase("Who designed the pier?", _HARWICK, "Eliza Marr", "long"),
    BenchCase("When did the observatory's summer school begin?", _OBSERVATORY, "1932", "long"),
)


def english_cases(length: str = "both") -> list[BenchCase]:
    return [c for c in ENGLISH_CASES if length in ("both", c.length)]


def japanese_cases(jsquad: Path, length: str = "both", per_length: int = 4) -> list[BenchCase]:
    """JSQuAD paragraphs of the short size, and long contexts made of consecutive paragraphs
    of one article (4,000-5,000 characters) asking the first paragraph's first question."""
    data = json.loads(jsquad.read_text(encoding="utf-8"))["data"]
    short: list[BenchCase] = []
    long: list[BenchCase] = []
    for article in data:
        paras = article["paragraphs"]
        for p in paras:
            qa = p["qas"][0]
            lo, hi = SHORT_CHARS
            if lo <= len(p["context"]) <= hi and len(short) < per_length:
                short.append(BenchCase(qa["question"], p["context"], _first(qa), "short"))
        text = ""
        for p in paras:
            if len(text) + len(p["context"]) + 1 > LONG_CHARS[1]:
                break
            text = f"{text}\n{p['context']}" if text else p["context"]
        if len(text) >= LONG_CHARS[0] and len(long) < per_length // 2:
            qa = paras[0]["qas"][0]
            long.append(BenchCase(qa["question"], text, _first(qa), "long"))
        if len(short) >= per_length and len(long) >= per_length // 2:
            break
    return [c for c in short + long if length in ("both", c.length)]


def _first(qa: dict) -> str:
    answers = qa.get("answers") or []
    return answers[0]["text"] if answers else ""
