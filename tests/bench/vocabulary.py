"""Text for the search benchmarks, with word frequencies shaped like a real language's.

A few hundred words of each language's helpdesk vocabulary, then pseudo-words made of
that language's syllables, all drawn by Zipf's law (the n-th most frequent word about
1/n as often as the first): a common word is in most texts, a rare one in a handful.
Drawing every word uniformly from twenty, as a first version did, made every query
match thousands of texts, which measures ranking, not search.
"""

from __future__ import annotations

import bisect
import itertools
import random

SIZE = 20_000  # distinct words per language

_TOPIC = {
    "es": """factura pago módem conexión wifi contraseña velocidad cancelación mudanza
    horario atención cliente técnico visita router fibra señal corte reclamo descuento
    internet servicio plan cobro deuda débito tarjeta recibo portabilidad línea teléfono
    instalación equipo antena cable lentitud caída avería garantía contrato cuenta
    usuario correo mensaje aplicación llamada reembolso promoción oferta saldo""",
    "pt": """cobrança pagamento modem conexão wifi senha velocidade cancelamento mudança
    horário atendimento cliente técnico visita roteador fibra sinal corte reclamação
    internet serviço plano débito cartão recibo portabilidade linha telefone instalação
    equipamento antena cabo lentidão queda avaria garantia contrato conta usuário
    correio mensagem aplicativo chamada reembolso promoção oferta saldo fatura""",
    "en": """bill payment modem connection wifi password speed cancellation moving hours
    service customer technician visit router fiber signal outage complaint discount
    internet plan charge debt debit card receipt porting line phone installation
    equipment antenna cable slowness drop fault warranty contract account user mail
    message app call refund promotion offer balance invoice""",
}
_SYLLABLES = {
    "es": "ba be bi bo ca ce ci co da de di do fa fe la le li lo ma me mi mo na ne ni no "
    "pa pe pi po ra re ri ro sa se si so ta te ti to va ve za zo cha che lla lle",
    "pt": "ba be bi bo ca ce ci co da de di do fa fe la le li lo ma me mi mo na ne ni no "
    "pa pe pi po ra re ri ro sa se si so ta te ti to va ve ção lha nho que gui",
    "en": "ba be bi bo ca co da de di do fa fe la le li lo ma me mi mo na ne ni no pa pe "
    "pi po ra re ri ro sa se si so ta te ti to ver ing ter ness ment ly",
}
LANGUAGES = tuple(_TOPIC)


class Vocabulary:
    def __init__(self, language: str, seed: int = 23):
        rng = random.Random(seed)
        topic = _TOPIC[language].split()
        syllables = _SYLLABLES[language].split()
        seen = set(topic)
        made = []
        while len(topic) + len(made) < SIZE:
            word = "".join(rng.choice(syllables) for _ in range(rng.randint(2, 4)))
            if word not in seen:
                seen.add(word)
                made.append(word)
        # The helpdesk words among the frequent ones, but not all at the top.
        self.words = made[:30] + topic + made[30:]
        weights = [1 / rank for rank in range(1, len(self.words) + 1)]
        self._cumulative = list(itertools.accumulate(weights))

    def text(self, rng: random.Random, words: int) -> str:
        total = self._cumulative[-1]
        return " ".join(
            self.words[bisect.bisect_left(self._cumulative, rng.random() * total)]
            for _ in range(words)
        )

    def query(self, rng: random.Random) -> str:
        """Two words a customer might type: a helpdesk word and one of middling
        frequency (ranks 30 to 3,000), so answers range from a few hits to many."""
        first = rng.choice(self.words[30:90])
        second = self.words[rng.randint(30, 3000)]
        return f"{first} {second}"


VOCABULARIES = {language: Vocabulary(language) for language in LANGUAGES}
