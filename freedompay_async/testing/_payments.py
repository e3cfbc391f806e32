"""The emulator's payment desk: one shared :class:`PaymentCore` and one object per flow.

Each flow is a small class holding the core (the state, rules, callbacks and status answers all
flows share) and its ``handlers`` (script path -> handler); the desk only routes paths to them.
Imports go one way: ``_payment_core`` <- each flow module <- this desk <- ``_gateway``; a flow
that uses another (Gateway API charges issue the 3-D Secure challenges ``_payment_acs``
completes) is given it, never in a cycle (``tests/test_import_graph.py``).

* :mod:`._payment_core` - state, lookups, outcomes, callbacks, status fields, the payer-side
  driver :meth:`PaymentCore.pay` (and the choices made);
* :mod:`._payment_page` - the payment page, two-step payments, refunds, recurring;
* :mod:`._payment_status` - ``get_status3.php``, ``get_status2.php``;
* :mod:`._payment_mobile` - mobile balance;
* :mod:`._payment_gateway` - Gateway API charges (Token Pay, Apple Pay, Google Pay);
* :mod:`._payment_acs` - 3-D Secure completions and the Gateway API's card storage;
* :mod:`._payment_cards` - Merchant API payments with a saved card.

A new flow: a class with ``__init__(self, core)`` and ``handlers``, listed in
:meth:`PaymentDesk.__init__`; a new path of a flow: an entry in its ``handlers``. Either way the
path is also listed in ``_gateway.SERVED_PATHS`` and in the endpoint table (``_endpoints``).
"""

from __future__ import annotations

from ._notifier import Notifier
from ._payment_acs import AcsFlow
from ._payment_cards import SavedCardFlow
from ._payment_core import Flow, PaymentCore
from ._payment_gateway import GatewayApiFlow
from ._payment_mobile import MOBILE_PROCESS_PHONE, MOBILE_TEST_CODE, MOBILE_TEST_PHONE, MobileFlow
from ._payment_page import PageFlow
from ._payment_status import StatusFlow
from ._protocol import EmulatorSettings, Handler
from ._rules import RuleBook
from ._state import GatewayState

__all__ = ["MOBILE_PROCESS_PHONE", "MOBILE_TEST_CODE", "MOBILE_TEST_PHONE", "PaymentDesk"]


class PaymentDesk:
    """The payment flows of one emulator, and the path -> handler table they serve."""

    def __init__(
        self, settings: EmulatorSettings, state: GatewayState, rules: RuleBook, notifier: Notifier
    ) -> None:
        self.core = PaymentCore(settings, state, rules, notifier)
        self.acs = AcsFlow(self.core)
        flows: tuple[Flow, ...] = (
            PageFlow(self.core),
            StatusFlow(self.core),
            MobileFlow(self.core),
            self.acs,
            GatewayApiFlow(self.core),
            SavedCardFlow(self.core),
        )
        self.handlers: dict[str, Handler] = {}
        for flow in flows:
            taken = self.handlers.keys() & flow.handlers.keys()
            assert not taken, f"{type(flow).__name__} serves paths already served: {taken}"
            self.handlers.update(flow.handlers)

    def close(self) -> None:
        """Stop the timers of ``process`` payments (the emulator is shutting down)."""
        self.core.close()
