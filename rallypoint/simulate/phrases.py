"""Phrase banks for the simulated texts, in English, Portuguese and Spanish.

Written for rallypoint's synthetic worlds in natural phrasing (slots in braces are
filled by :mod:`rallypoint.simulate.texts`). The detectors' lexicons are written
separately from general domain knowledge; nothing here is meant to match them word
for word. Organic banks deliberately include politics and the election, so that
words alone never separate campaigns from ordinary talk.
"""

from __future__ import annotations

MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December"],
    "pt": ["janeiro", "fevereiro", "março", "abril", "maio", "junho", "julho", "agosto", "setembro", "outubro",
           "novembro", "dezembro"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
           "noviembre", "diciembre"],
}
# Monday first, as datetime.weekday().
WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    "pt": ["segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo"],
    "es": ["lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"],
}
TODAY = {"en": ["today", "TODAY", "this morning"], "pt": ["hoje", "HOJE", "hj"], "es": ["hoy", "HOY", "hoy mismo"]}
TOMORROW = {"en": ["tomorrow", "TOMORROW", "tmrw"], "pt": ["amanhã", "AMANHÃ", "amanha"],
            "es": ["mañana", "MAÑANA", "manana"]}

# --- organic background ------------------------------------------------------------
ORGANIC = {
    "en": {
        "openers": ["", "", "", "ok so ", "honestly ", "lol ", "not gonna lie, ", "ugh ", "good morning! ", "fun fact: ",
                    "PSA: ", "update: ", "me: ", "can we talk about how ", "just saying, "],
        "bodies": [
            "can't believe {team} lost again", "anyone else watching {show} tonight?", "made {food} for dinner and it slaps",
            "traffic in {city} is insane today", "my {thing} broke AGAIN", "new year resolution: less phone, more {hobby}",
            "this weather in {city} is something else", "just finished {show}, no spoilers please",
            "happy birthday to my {relative}!!", "who's going to the game on sunday", "the price of eggs is wild",
            "coffee first, then we talk", "hot take: {food} is overrated", "{team} trade rumors are getting out of hand",
            "my flight to {city} got delayed 3 hours", "reading about the election results, what a year",
            "congress is back next week, let's see what they actually do",
            "whatever side you're on, please be kind to each other this week",
            "watching the news about the vote count again", "taking the kids to see the lights in {city}",
            "first {hobby} session of the year done", "is it just me or is {show} getting worse",
            "my {relative} still thinks {food} is a vegetable", "shoutout to the nurses working the holidays",
            "got stuck in the snow outside {city} lol", "the {team} defense is a crime scene",
            "finally cleaned my {thing}, feeling like a new person", "gas prices in {city} went up again",
            "my uncle keeps saying the election was stolen, dinner was fun", "honestly still not sure about those vote counts",
            "people yelling fraud should read the audit report", "walked past the Capitol today, it's beautiful in the snow",
            "anyone else going to DC for the parade next month?",
        ],
        "slots": {
            "team": ["the Bears", "Dallas", "the Lakers", "my team", "the Jets", "Philly", "the Rams", "Chelsea"],
            "show": ["the finale", "that new dragon show", "the cooking contest", "Wednesday", "the documentary",
                     "the playoff game"],
            "food": ["chili", "lasagna", "pancakes", "tacos", "meatloaf", "avocado toast", "gumbo"],
            "city": ["Chicago", "Denver", "Atlanta", "Boston", "Phoenix", "Seattle", "Austin", "Cleveland"],
            "thing": ["phone", "laptop", "car", "dishwasher", "headphones", "coffee maker"],
            "hobby": ["running", "reading", "guitar", "gym", "painting", "hiking"],
            "relative": ["mom", "dad", "sister", "brother", "best friend", "grandpa", "aunt"],
        },
        "closers": ["", "", "", " lol", " haha", "!!", "...", " smh", " tbh", " fr", " 🙃"],
        "emojis": ["", "", "", " 😂", " 😭", " 🔥", " ❤️", " 🙏", " 👀", " 💯", " 🥶", " 🎉"],
        "hashtags": ["NFL", "NewYear", "Snow", "MondayMotivation", "Foodie", "NowWatching", "Election", "Congress"],
    },
    "pt": {
        "openers": ["", "", "", "gente, ", "sério, ", "kkkk ", "bom dia! ", "olha, ", "alguém me explica: ",
                    "atualização: ", "confesso que ", "só eu acho que ", "aff "],
        "bodies": [
            "o {team} perdeu de novo, não aguento", "alguém assistindo {show} hoje?", "fiz {food} no almoço e ficou top",
            "o trânsito em {city} tá impossível", "meu {thing} quebrou DE NOVO", "meta de ano novo: menos celular, mais {hobby}",
            "que calor em {city} hoje", "terminei {show}, sem spoiler por favor", "feliz aniversário pra minha {relative}!!",
            "quem vai no jogo domingo?", "o preço da carne tá um absurdo", "primeiro o café, depois a conversa",
            "opinião polêmica: {food} é superestimado", "acompanhando a posse pela TV", "ano novo em {city} foi lindo demais",
            "a apuração foi rápida, impressionante", "política em família no natal, sobrevivemos",
            "vamos respeitar uns aos outros nesse começo de ano", "saudade de {city}", "o {team} tá jogando muito mal",
            "minha {relative} fez {food} e tá perfeito", "chuva forte em {city} agora", "começando {hobby} esse ano",
            "quem mais tá de férias e sem fazer nada", "o calor de {city} não é normal",
            "meu tio jura que teve fraude nas urnas, natal animado", "ainda acho estranha essa apuração",
            "quem fala em fraude devia ler o relatório do TSE", "passeando na Esplanada com as crianças, que lindo",
            "alguém vai pra Brasília ver a posse?",
        ],
        "slots": {
            "team": ["Flamengo", "Corinthians", "Palmeiras", "Grêmio", "meu time", "Vasco", "Cruzeiro"],
            "show": ["o BBB", "a novela", "o jogo", "aquela série nova", "o documentário"],
            "food": ["feijoada", "pão de queijo", "lasanha", "churrasco", "açaí", "moqueca"],
            "city": ["São Paulo", "Rio", "BH", "Recife", "Salvador", "Fortaleza", "Floripa", "Manaus"],
            "thing": ["celular", "notebook", "carro", "fone", "ventilador"],
            "hobby": ["academia", "leitura", "corrida", "violão", "yoga"],
            "relative": ["mãe", "irmã", "avó", "tia", "prima", "amiga"],
        },
        "closers": ["", "", "", " kkkk", " rs", "!!", "...", " né", " affs", " 🙃"],
        "emojis": ["", "", "", " 😂", " 😭", " 🔥", " ❤️", " 🙏", " 👀", " 💚", " 🥵", " 🎉"],
        "hashtags": ["BBB23", "Flamengo", "AnoNovo", "Verao", "Posse", "Brasil", "Futebol"],
    },
    "es": {
        "openers": ["", "", "", "che, ", "la verdad ", "jajaja ", "buen día! ", "ojo: ", "confieso que ",
                    "alguien me explica ", "dato: "],
        "bodies": [
            "no puedo creer que {team} perdió otra vez", "alguien viendo {show} esta noche?", "hice {food} y me salió genial",
            "el tránsito en {city} está imposible", "se me rompió el {thing} OTRA VEZ",
            "propósito de año nuevo: menos celular, más {hobby}", "qué calor en {city} hoy", "terminé {show}, sin spoilers",
            "feliz cumple a mi {relative}!!", "quién va a la cancha el domingo?", "los precios en el súper están locos",
            "primero el mate, después hablamos", "opinión impopular: {food} está sobrevalorado",
            "mirando las noticias sobre el escrutinio", "año nuevo en {city}, qué lindo",
            "discutimos de política en la cena, sobrevivimos", "respetémonos un poco este año por favor",
            "extraño {city}", "{team} juega cada vez peor", "mi {relative} hizo {food} y quedó perfecto",
            "tormenta fuerte en {city} ahora", "empiezo {hobby} este año",
            "mi tío dice que hubo fraude electoral, otra vez", "todavía no entiendo cómo fue el escrutinio",
            "los que hablan de elección robada que lean las actas", "paseando por Plaza de Mayo con mi vieja",
            "alguien va al Congreso a ver la sesión?",
        ],
        "slots": {
            "team": ["Boca", "River", "Racing", "mi equipo", "la Selección", "Independiente", "San Lorenzo"],
            "show": ["la final", "la serie nueva", "el partido", "el documental", "la novela"],
            "food": ["asado", "empanadas", "milanesas", "locro", "tacos", "ñoquis"],
            "city": ["Buenos Aires", "Córdoba", "Rosario", "Montevideo", "Santiago", "Mendoza", "Lima"],
            "thing": ["celular", "notebook", "auto", "auricular", "ventilador"],
            "hobby": ["gimnasio", "lectura", "running", "guitarra", "yoga"],
            "relative": ["vieja", "hermana", "abuela", "tía", "prima", "amiga"],
        },
        "closers": ["", "", "", " jaja", " jajaja", "!!", "...", " posta", " 🙃"],
        "emojis": ["", "", "", " 😂", " 😭", " 🔥", " ❤️", " 🙏", " 👀", " 🧉", " 🥵", " 🎉"],
        "hashtags": ["Boca", "River", "AnoNuevo", "Verano", "Elecciones", "Futbol", "Argentina"],
    },
}
POPULAR_DOMAINS = ["youtube.com", "instagram.com", "en.wikipedia.org", "open.spotify.com", "reddit.com",
                   "tiktok.com", "g1.globo.com", "uol.com.br", "infobae.com", "clarin.com", "bbc.com", "cnn.com"]

# --- campaign voices ------------------------------------------------------------------
CAMPAIGN = {
    "en": {
        "alarm": ["They stole it in broad daylight.", "We all saw what happened in November.", "Enough is enough.",
                  "Patriots, this is it.", "The time for talk is over.", "They think we'll just go home.",
                  "Nobody is coming to save us.", "Wake up, America."],
        "fraud": ["The election was stolen", "The machines flipped the votes", "Millions of fake ballots got counted",
                  "They rigged it and everyone knows it", "The certification is a fraud",
                  "Dead people voted and the courts won't look", "The count was cooked overnight"],
        "call": ["Be {at_place} {date}.", "Everyone to {place} {date}!", "We meet {at_place} {date}, {time}.",
                 "{Date}: {place}. Bring everyone you know.", "Show up {date} {at_place}, no excuses.",
                 "Join us {at_place} {date} and make them hear us.", "{Date} we fill {place}.",
                 "All roads lead to {place} {date}.", "I'm going to {city} {date}. Are you?"],
        "time": ["at dawn", "8am sharp", "by 10am", "at noon", "first light", "early"],
        "logistics": ["Buses leaving {origin} at 3am, seats still open.", "Carpool sign-up in the link.",
                      "Caravan from {origin} rolls out the night before.", "Rooms available near {city}, DM me.",
                      "We have a hotel block, ask for the group rate.", "Free rides from {origin}, reply if you need one.",
                      "Two more vans added from {origin}.", "Parking is a nightmare, take the train in and meet up."],
        "money": ["Chip in for gas and buses: {fund}", "Donate for the buses {fund}", "Every dollar helps {fund}",
                  "Help cover the hotel block: {fund}"],
        "escalation": [
            ["Make our voices heard.", "Peacefully but firmly.", "Show them our numbers."],
            ["We will not back down.", "This is our last chance.", "No more waiting.", "Hold the line."],
            ["Come ready for anything.", "Bring your gear.", "They will not stop us.",
             "If they lock the doors we open them."],
            ["We are going in.", "Take the building back.", "Storm it if we have to.",
             "They will answer for this, one way or another."],
        ],
        "code": ["the wedding", "the big picnic", "grandma's party"],
        "code_call": ["Who's coming to {code} {date}? 😉", "{Code} is on for {date} {at_place}, dress warm.",
                      "RSVP for {code} {date}, bring the cousins.", "{Code}: {date}, we gather {at_place} {time}."],
        "closers": ["Share before they delete this.", "RT and spread the word.", "Tell everyone.", "", "",
                    "Pass it on.", "We the people."],
        "support": ["I'll be there 🇺🇸", "Count me in", "Bus from {origin} is full, adding a second one",
                    "Driving up with my brother", "See you there patriots", "Already booked my room",
                    "We're coming from {origin}!", "Wouldn't miss it", "Ready.", "This is the one. Be there."],
        "places": [("the Capitol", "at the Capitol"), ("Capitol Hill", "on Capitol Hill"), ("the Ellipse", "at the Ellipse"),
                   ("Freedom Plaza", "at Freedom Plaza")],
        "city": ["DC", "Washington", "D.C."],
        "origins": ["Ohio", "Pennsylvania", "Texas", "Georgia", "Michigan", "Arizona", "Florida", "Wisconsin"],
        "hashtags": ["StopTheSteal", "WeThePeople", "HoldTheLine", "1776", "FightBack", "PatriotsUnite", "Jan6"],
        "emojis": ["🇺🇸", "🦅", "🔥", "⚠️", "💪", "🚌", "‼️"],
    },
    "pt": {
        "alarm": ["Roubaram a eleição na cara dura.", "O Brasil acordou!", "Chega de aceitar calado.",
                  "Patriotas, é agora ou nunca.", "Não dá mais pra esperar.", "Eles acham que vamos desistir.",
                  "Ninguém vai fazer por nós."],
        "fraud": ["Fraude nas urnas", "As urnas foram fraudadas", "Eleição roubada", "O código-fonte nunca foi mostrado",
                  "O TSE escondeu a fraude", "Os números não fecham", "Roubaram nosso voto"],
        "call": ["Todos {at_place} {date}!", "{Date} é {at_place}, sem desculpa.", "Convocação geral: {place}, {date}.",
                 "Vamos nos reunir {at_place} {date}.", "Estejam em {city} {date}, concentração {at_place}.",
                 "Compareça {date} {at_place}.", "{Date} o Brasil inteiro {at_place}!", "Bora pra {city} {date}!"],
        "time": ["às 8h", "cedinho", "a partir das 10h", "ao meio-dia", "logo cedo"],
        "logistics": ["Ônibus saindo de {origin} às 22h, vagas limitadas.", "Caravana de {origin} confirmada.",
                      "Hospedagem garantida pra quem vier de fora.", "Temos alimentação e barracas no acampamento.",
                      "Transporte e café da manhã por nossa conta.", "Lista do ônibus no link.",
                      "Mais dois ônibus saindo de {origin}.", "Quem tiver carro, ofereça carona no grupo."],
        "money": ["Ajude com o pix: {pix}", "Chave pix {pix} pra ajudar no fretamento.", "Contribua: {fund}",
                  "Vaquinha pros ônibus: {fund}", "Qualquer valor ajuda, pix {pix}"],
        "escalation": [
            ["De forma ordeira.", "Vamos mostrar nossa força.", "Pacíficos mas firmes."],
            ["Não vamos recuar.", "É a última chance.", "Resistência até o fim.", "Daqui ninguém sai."],
            ["Venham preparados.", "Tragam o que precisar.", "Ninguém vai nos parar.", "Vamos tomar o que é nosso."],
            ["Vamos invadir se for preciso.", "Tomar os três poderes.", "Se não ouvirem, vai ser na marra.",
             "Eles vão pagar por isso."],
        ],
        "code": ["Festa da Selma", "a festa da Selma", "o churrasco da Selma"],
        "code_call": ["Quem vai na {code} {date}? 🎉", "{Code} confirmada {date} {at_place}, levem a família.",
                      "Convite pra {code}: {date}, não faltem.", "{Code} em {city}, {date}, encontro {at_place} {time}."],
        "closers": ["Compartilhem antes que apaguem.", "Repassem!", "Divulguem em todos os grupos.", "", "",
                    "Deus, pátria e família.", "Avisem todo mundo."],
        "support": ["Estarei lá 🇧🇷", "Tô dentro", "Ônibus de {origin} lotado, abrimos outro",
                    "Vou com minha família", "Nos vemos lá patriotas", "Já garanti minha vaga",
                    "Saindo de {origin}!", "Não perco por nada", "Pronto.", "É agora. Todos lá."],
        "places": [("Praça dos Três Poderes", "na Praça dos Três Poderes"),
                   ("Esplanada dos Ministérios", "na Esplanada dos Ministérios"),
                   ("Congresso Nacional", "no Congresso Nacional"), ("QG do Exército", "em frente ao QG do Exército")],
        "city": ["Brasília", "BSB", "Brasilia"],
        "origins": ["São Paulo", "Goiânia", "Curitiba", "Belo Horizonte", "Cuiabá", "Porto Alegre", "Campo Grande"],
        "hashtags": ["BrasilNasRuas", "FraudeNasUrnas", "SOSForcasArmadas", "IntervencaoJa", "Selma", "AcordaBrasil"],
        "emojis": ["🇧🇷", "💚💛", "🙏", "🔥", "🚍", "‼️"],
    },
    "es": {
        "alarm": ["Nos robaron la elección.", "Basta de mentiras.", "Argentinos, es ahora.", "El pueblo despertó.",
                  "No nos vamos a quedar en casa.", "Creen que nos vamos a cansar."],
        "fraud": ["Elección robada", "Fraude electoral", "Votos truchos por todos lados", "Manipularon el escrutinio",
                  "Las actas están adulteradas", "El conteo fue un fraude"],
        "call": ["Todos {at_place} {date}!", "Nos vemos {at_place} {date}.", "{Date} concentramos {at_place}.",
                 "Convocatoria: {place}, {date}, {time}.", "Vení {date} {at_place} y traé a tu familia.",
                 "{Date} llenamos {place}.", "Vamos a {city} {date}, sin excusas."],
        "time": ["a las 10", "temprano", "desde las 9", "al mediodía", "a primera hora"],
        "logistics": ["Micros saliendo de {origin} a las 5, quedan lugares.", "Caravana desde {origin}.",
                      "Hay alojamiento para los que vienen del interior.", "Colectivos gratis desde {origin}.",
                      "Traslado y comida cubiertos, anotate en el link.", "Sumamos dos micros más desde {origin}."],
        "money": ["Colaborá con el alias {alias}", "Aportá para los micros: {fund}", "Transferí al alias {alias}",
                  "Toda ayuda suma: {fund}"],
        "escalation": [
            ["En paz y con la bandera.", "Que se escuche nuestra voz.", "Mostremos cuántos somos."],
            ["No vamos a retroceder.", "Es la última oportunidad.", "Resistencia hasta el final."],
            ["Vengan preparados.", "Nadie nos va a parar.", "Si cierran las vallas, las corremos."],
            ["Vamos a entrar.", "Tomamos el Congreso.", "Que paguen por esto.", "A cualquier costo."],
        ],
        "code": ["el asado grande", "la fiesta de la abuela", "el cumple del tío"],
        "code_call": ["¿Quién viene a {code} {date}? 🎉", "{Code} confirmado {date} {at_place}, traigan a todos.",
                      "Invitación a {code}: {date}, no falten.", "{Code}: {date}, nos juntamos {at_place} {time}."],
        "closers": ["Compartí antes de que lo borren.", "Difundan!", "Pasalo a todos tus grupos.", "", "",
                    "Viva la patria.", "Avisale a todos."],
        "support": ["Ahí estaré 🇦🇷", "Voy", "El micro de {origin} ya está lleno, sumamos otro",
                    "Voy con mi familia", "Nos vemos ahí", "Ya reservé mi lugar", "Salimos desde {origin}!",
                    "No me lo pierdo", "Listo.", "Es ahora. Todos."],
        "places": [("Plaza de Mayo", "en Plaza de Mayo"), ("el Congreso", "frente al Congreso"),
                   ("Casa Rosada", "frente a la Casa Rosada"), ("Plaza de los Dos Congresos", "en Plaza de los Dos Congresos")],
        "city": ["Buenos Aires", "Capital", "CABA"],
        "origins": ["Córdoba", "Rosario", "Mendoza", "Tucumán", "La Plata", "Mar del Plata", "Salta"],
        "hashtags": ["FraudeElectoral", "EleccionRobada", "TodosALaPlaza", "ArgentinaDespierta", "NoNosCallan"],
        "emojis": ["🇦🇷", "🔥", "✊", "🚌", "‼️", "💪"],
    },
}

# --- amplification ring: fraud narratives, no place, no date -----------------------------
RING = {
    "en": ["{fraud}. {proof}", "{proof} {fraud}!", "Why is nobody talking about this? {fraud}.", "{fraud}. {demand}",
           "BREAKING: {proof}", "{demand} {fraud}."],
    "proof": ["Look at the vote dumps at 3am.", "Watch the video of the ballot boxes.", "Thousands of affidavits prove it.",
              "The numbers are statistically impossible.", "Poll watchers were kicked out.", "The data guy exposed it all."],
    "demand": ["Decertify now.", "Audit every state.", "Do not concede.", "Expose them all.", "Demand answers."],
}

# --- organic look-alikes ------------------------------------------------------------------
NEWS = {
    "en": {"outlets": [("The Daily Ledger", "dailyledger.com"), ("Metro Wire", "metrowire.net")],
           "headlines": ["Officials certify results in {state} after routine audit", "Storm brings heavy snow to {state}",
                         "Congress returns with spending fight ahead", "Police prepare for demonstrations in the capital",
                         "Court rejects lawsuit claiming election fraud in {state}", "Inflation cools slightly in December",
                         "{team} clinch playoff spot", "Airlines cancel hundreds of flights amid winter storm",
                         "What to know about the new Congress", "Experts explain how ballots are counted in {state}"],
           "slots": {"state": ["Arizona", "Georgia", "Ohio", "Texas", "Michigan"], "team": ["Bills", "Chiefs", "Eagles"]}},
    "pt": {"outlets": [("Jornal do Planalto", "jornaldoplanalto.com.br"), ("Portal Agora", "portalagora.com.br")],
           "headlines": ["Posse reúne milhares em {city}", "TSE conclui auditoria das urnas sem irregularidades",
                         "Chuvas causam alagamentos em {city}", "Governo anuncia novo ministério",
                         "Polícia reforça segurança na Esplanada", "Bolsa fecha em alta após anúncio econômico",
                         "{team} acerta contratação para 2023", "Acampamentos em frente a quartéis são investigados",
                         "Calor bate recorde em {city}", "Entenda como funciona a apuração dos votos"],
           "slots": {"city": ["Brasília", "São Paulo", "Rio", "Recife"], "team": ["Flamengo", "Palmeiras", "Corinthians"]}},
    "es": {"outlets": [("Diario del Sur", "diariodelsur.com.ar"), ("Noticias Hoy", "noticiashoy.com")],
           "headlines": ["La justicia rechaza denuncias de fraude electoral", "Ola de calor en {city}",
                         "El Congreso debate el presupuesto", "Refuerzan la seguridad en Plaza de Mayo",
                         "{team} anuncia un refuerzo para la temporada", "El dólar vuelve a subir",
                         "Cómo se cuentan los votos: guía paso a paso", "Cortes de luz en {city}",
                         "Marcha docente programada para la semana próxima", "Turismo récord en la costa"],
           "slots": {"city": ["Buenos Aires", "Córdoba", "Rosario"], "team": ["Boca", "River", "Racing"]}},
}
NEWS_SHARE = {
    "en": ["Worth a read:", "wow", "This.", "Interesting", "Finally some good news", "ugh", "Read this before commenting",
           "Not surprised", "Good explainer", ""],
    "pt": ["Vale a leitura:", "nossa", "Isso.", "Interessante", "Finalmente uma notícia boa", "aff", "Leiam antes de comentar",
           "Nada surpreso", ""],
    "es": ["Vale la pena leer:", "uf", "Esto.", "Interesante", "Por fin una buena noticia", "Léanlo antes de opinar",
           "Nada sorprendido", ""],
}
IDOL = {
    "name": "LUMI", "handle": "lumi_official",
    "songs": ["Neon Heart", "Gravity", "Paper Moon", "Sugar Rush"],
    "posts": ["New single '{song}' out now 💜", "thank you for 10M streams of {song}!!", "see you in {city} on the {day}th 💜",
              "who's coming to {city} on the {day}th?? 💜",
              "rehearsal day, can't wait for {city}", "behind the scenes of the {song} video 🎥", "love you all, goodnight 🌙",
              "surprise: acoustic {song} tonight at 8"],
    "cities": ["São Paulo", "Mexico City", "Los Angeles", "Buenos Aires"],
    "fan": ["QUEEN 😭💜", "streaming {song} all day", "she ate and left no crumbs", "{tag} let's gooo", "MÃE 😭💜",
            "que hino {song}", "LUMI YOU'RE SO PRETTY", "crying in the club rn", "mi reina 😭", "stream {song} or else",
            "I'll be there!! 💜", "count me in 💜", "estarei lá!! 💜", "ahí estaré 😭", "lumi never misses", "not me refreshing every 5 seconds", "{tag} {tag}"],
    "hashtags": ["LUMI", "LumiComeback", "NeonHeart", "LumiTour"],
}
PROTEST = {
    "en": {"org": ("Teachers United", "teachersunited_ny"), "cause": "fair pay for teachers",
           "place": ("City Hall", "at City Hall"), "city": "New York",
           "announce": ["{org} invites everyone to a peaceful march for {cause} on {date} {at_place}, 11am. "
                        "Our permit is approved. Bring water, signs and your family ✊",
                        "Reminder: rally for {cause} {date} {at_place}. Peaceful, permitted, family friendly. "
                        "Marshals in yellow vests will guide you.",
                        "We march {date}! Meet {at_place} at 11. Free shuttle from the subway. Join us peacefully."],
           "share": ["I'll be there with my kids", "Great cause, see you {date}", "Our school is sending a group!",
                     "Teachers deserve better. Going.", "Bringing my whole department", "Can't make it but support 100%",
                     "Spread the word, it's a peaceful march", "First protest ever for me, excited"]},
    "pt": {"org": ("Frente pela Educação", "frente_educacao"), "cause": "mais verbas para a educação",
           "place": ("Avenida Paulista", "na Avenida Paulista"), "city": "São Paulo",
           "announce": ["A {org} convida para uma marcha pacífica por {cause} {date} {at_place}, às 14h. "
                        "Ato autorizado pela prefeitura. Tragam água e cartazes ✊",
                        "Lembrete: ato por {cause} {date} {at_place}. Pacífico, com autorização e para toda a família.",
                        "Vamos juntos {date}! Concentração {at_place} às 14h. Manifestação pacífica."],
           "share": ["Vou com meus filhos", "Causa justa, nos vemos {date}", "Minha escola vai em peso!",
                     "Professor merece respeito. Estarei lá.", "Não vou poder ir mas apoio", "Divulguem, é pacífico",
                     "Primeira manifestação da minha vida"]},
    "es": {"org": ("Jóvenes por el Clima", "jovenesclima_ar"), "cause": "acción climática",
           "place": ("el Congreso", "frente al Congreso"), "city": "Buenos Aires",
           "announce": ["{org} convoca a una marcha pacífica por {cause} {date} {at_place}, a las 17. "
                        "Tenemos autorización. Traé agua y tu cartel ✊",
                        "Recordatorio: marcha por {cause} {date} {at_place}. Pacífica y para toda la familia.",
                        "Marchamos {date}! Nos juntamos {at_place} a las 17. Con permiso y en paz."],
           "share": ["Voy con mis hijos", "Causa justa, nos vemos {date}", "Mi colegio va en grupo!",
                     "El planeta no espera. Voy.", "No puedo ir pero apoyo", "Difundan, es pacífica"]},
}
POLITICIANS = {
    "en": [("Sen. Laura Whitfield", "SenWhitfield"), ("Rep. Dan Ortega", "RepDanOrtega")],
    "pt": [("Dep. Fábio Marques", "DepFabioMarques"), ("Senadora Lúcia Prado", "SenLuciaPrado")],
    "es": [("Dip. Marta Quiroga", "DipMartaQuiroga")],
}
POLITICIAN_POSTS = {
    "en": ["Thank you to every poll worker who made this election work.", "The count is the count. Let's move forward together.",
           "Town hall in {city} tonight, come ask me anything.", "Our infrastructure bill passed committee today!",
           "Happy new year from my family to yours!", "Democracy works when we all take part.",
           "We will review every complaint through the courts, as the law allows.",
           "Sworn in for the new Congress. Ready to work for {city}."],
    "pt": ["Obrigado a todos os mesários que fizeram a eleição acontecer.", "Respeitem o resultado das urnas.",
           "Feliz ano novo, Brasil!", "Seguimos trabalhando pela saúde em {city}.",
           "A posse é um momento de união nacional.", "Questionamentos devem ir à Justiça, dentro da lei.",
           "Reunião com prefeitos de {city} hoje."],
    "es": ["Gracias a todas las autoridades de mesa.", "El resultado de las urnas se respeta.", "¡Feliz año nuevo!",
           "Hoy en {city} con los vecinos.", "Cualquier reclamo, por la vía judicial.", "Sesión extraordinaria en el Congreso."],
    "cities": {"en": ["Phoenix", "Atlanta", "Denver"], "pt": ["Goiás", "Recife", "Curitiba"], "es": ["Córdoba", "Rosario"]},
}

# --- live events: many people post with the same hashtag during a TV show or a match -------
LIVE = {
    "en": {"hashtag": "SundayNightFootball", "days": (5, 6), "local_start_h": 19.0, "hours": 3.0,
           "texts": ["what a play!!", "refs are blind tonight", "I can't watch this", "TOUCHDOWN", "this defense tho",
                     "that was a catch?? really??", "we're so back", "turn it off, we're done", "overtime let's gooo",
                     "best game of the season"]},
    "pt": {"hashtag": "BBB23", "days": (1, 3, 6), "local_start_h": 22.5, "hours": 2.0,
           "texts": ["essa prova tá tensa", "paredão hoje hein", "não acredito nessa eliminação", "torcendo muito",
                     "que festa foi essa", "quem vai pro paredão?", "chorei nesse discurso", "esse líder vai dar o que falar",
                     "a casa tá dividida", "votando sem parar"]},
    "es": {"hashtag": "Superclasico", "days": (2, 6), "local_start_h": 21.0, "hours": 2.0,
           "texts": ["qué golazo!!", "el árbitro no ve nada", "no puedo mirar", "vamos carajo", "qué partido",
                     "penal clarísimo", "se viene el segundo", "no lo puedo creer", "tremenda atajada", "final de infarto"]},
}


# --- campaigns no lexicon knows --------------------------------------------------------
# Invented code words: ordinary leisure words standing for the gathering. They are written
# here only; no detector lexicon lists them (the detectors must learn them from the data).
# ``de`` is a language rallypoint ships no lexicon for.
CODED = {
    "en": {
        "code": ["the fishing trip", "the lake cookout", "uncle Walt's birthday"],
        "meet": ["meet at the north lot of Riverside Mall", "we meet behind the old feed store on Route 9",
                 "pickup at the Dunmore park-and-ride"],
        "call": ["{Code} is {date}. {Meet} at {time}. {seats} seats left on the bus, grab yours: {link}",
                 "Reminder: {code} {date}, {meet}, {time} sharp. Bus has {seats} seats, sign up {link}",
                 "{Code} {date}! {Meet}, {time}. Still {seats} bus seats, list here {link}",
                 "Bring the cooler for {code} {date}. {Meet} {time}, {seats} seats on the bus: {link}"],
        "support": ["Count me in for {code}", "Got my seat 🎣", "See you at the lot", "Bringing two more",
                    "Wouldn't miss it", "Seat booked!"],
        "time": ["6am", "5:30am", "7 am", "06:00", "6:15am"],
    },
    "de": {
        "code": ["die Angeltour", "das Grillfest am See", "Opas Geburtstag"],
        "meet": ["Treffpunkt Parkplatz Nord am Einkaufszentrum", "wir treffen uns hinter dem alten Bahnhof",
                 "Abfahrt am Busbahnhof Gleis 4"],
        "call": ["{Code} am {date}. {Meet} um {time}. Noch {seats} Plätze im Bus, Anmeldung: {link}",
                 "Erinnerung: {code} am {date}, {meet}, pünktlich {time}. {seats} Busplätze frei {link}",
                 "{Code} {date}! {Meet}, {time}. Noch {seats} Plätze, hier eintragen {link}",
                 "Kühlbox nicht vergessen: {code} am {date}. {Meet} {time}, {seats} Plätze im Bus: {link}"],
        "support": ["Bin dabei", "Platz gebucht 🎣", "Wir sehen uns am Parkplatz", "Bringe noch zwei mit",
                    "Auf jeden Fall", "Sitzplatz reserviert!"],
        "time": ["6 Uhr", "05:30", "7 Uhr", "06:00", "6:15 Uhr"],
    },
}

# Everyday German chatter, one piece from each list (9 x 9 x 8 combinations).
GERMAN_COVER = (
    ["Heute", "Gestern", "Am Wochenende", "Morgen früh", "Eben", "Nach der Arbeit", "Zum Frühstück", "Abends",
     "Endlich"],
    ["Kaffee mit den Nachbarn", "neue Reifen aufs Auto", "Regen ohne Ende", "den Garten umgegraben",
     "das Spiel im Radio gehört", "Kuchen von Oma", "den Keller aufgeräumt", "mit dem Hund raus",
     "eine Stunde im Stau"],
    [".", "!", " 😅", " 🙄", ", wie immer.", ", endlich.", " ☕", ", herrlich."],
)

# --- lawful look-alikes with links, logistics or young accounts ---------------------------
CHARITY = {
    "org": ("Harbor Animal Rescue", "HarborRescue"),
    "appeal": ["Our shelter roof collapsed in the storm. Every bit helps: {link}",
               "Winter appeal: 40 dogs need heating this month. Please give if you can {link}",
               "Matched giving until midnight! Double your donation for the shelter: {link}",
               "Thank you all! We're at 70% of the goal for the new kennels {link}"],
    "share": ["Donated, please share 🐶", "Great cause, chipped in", "Please help them out {link}",
              "Just gave what I could {link}", "Sharing for the pups"],
}
#: A food bank's volunteer days: dated invitations with the bus, answered by pledges.
VOLUNTEERS = {
    "en": {"org": ("Eastside Food Bank", "EastsideFoodBank"), "origin": "the church lot",
           "invite": ["Volunteer day {date}! The bus leaves {origin} at 8am, who's coming?",
                      "Packing day {date}: bus seats available from {origin}, rides for Saturday too. Who's in?",
                      "We need hands {date}, 9am. Carpool from {origin}. Are you coming?"],
           "pledge": ["I'll be there!", "Count me in", "See you there 🙌", "I'm in, bringing my son",
                      "Booked my seat on the bus", "Can't this time, next one!"]},
    "pt": {"org": ("Banco de Alimentos Zona Sul", "bancoalimentos_zs"), "origin": "a paróquia",
           "invite": ["Mutirão {date}! O ônibus sai d{origin} às 7h, quem vai?",
                      "Dia de montar cestas {date}, carona saindo d{origin}. Quem topa?"],
           "pledge": ["Estarei lá!", "Conta comigo", "Tô dentro 🙌", "Vou com minha filha", "Dessa vez não consigo"]},
}
#: Chain messages people copy and paste to each other: a civic notice with a date and a place.
CHAINS = {
    "en": ["PLEASE SHARE: the water will be cut {date} from 8am to 6pm in the whole {place} area, fill your "
           "tanks the night before and tell your neighbours, the elderly too",
           "Pass it on: the bridge road into {place} is closed {date} for repairs, buses will take the long way "
           "round so leave early and warn everyone you know"],
    "pt": ["ATENÇÃO, REPASSEM: {date} vai faltar água das 8h às 18h em toda a região de {place}, encham as "
           "caixas na véspera e avisem os vizinhos, principalmente os idosos",
           "Repassem: a ponte de {place} fica fechada {date} para obras, os ônibus vão pelo desvio então saiam "
           "mais cedo e avisem todo mundo"],
    "es": ["ATENCIÓN, DIFUNDIR: {date} cortan el agua de 8 a 18 h en toda la zona de {place}, llenen los "
           "tanques la noche anterior y avisen a los vecinos, sobre todo a los mayores",
           "Difundan: el puente de entrada a {place} está cerrado {date} por obras, los colectivos dan la vuelta "
           "larga así que salgan temprano y avisen a todos"],
}
CHAIN_PLACES = {"en": ["Springfield", "Riverside", "Columbus"], "pt": ["Curitiba", "Campinas", "Niterói"],
                "es": ["Rosario", "Córdoba", "La Plata"]}
NEWCOMERS = {
    "hashtag": "NewHere",
    "intro": ["Hi all, just moved over here! Into hiking and bad puns #NewHere",
              "First post, be gentle. Nurse, cyclist, cat person #NewHere",
              "Hello! Teacher from Leeds, here for book chat #NewHere",
              "Finally made an account. Mostly gardening content #NewHere",
              "New here, looking for local news and football people #NewHere"],
    "welcome": ["Welcome aboard!", "Hello and welcome 👋", "Glad you made it over", "Welcome! Follow-back sorted"],
}
SUPPORTERS = {
    "club": ("Ashford Town Supporters' Club", "AshfordTownSC"),
    "away": ["AWAY DAY {date}: coaches to Kingsmead Stadium leave the club house at {time}. {seats} seats left, "
             "book here {link} £25 return",
             "Coaches for the cup tie at Kingsmead {date}! Depart {time} from the club house, {seats} seats, "
             "sign up: {link}",
             "Last call for the away coaches {date}, {time} from the club house car park. {seats} seats remaining {link}"],
    "share": ["Booked! Up the Town 🔴", "Two seats sorted for me and the lad", "Who's on the first coach?",
              "Can't wait, COYT", "Booked, see you at the club house"],
    "time": ["7:30am", "08:00", "9am", "7am"],
}
