"""From transaction records (customs declarations, VAT invoices) to firm-year indicators.

Customs and VAT records link a seller to its buyers, products and destinations; from them the
governance and upgrading indicators of the firm panel can be computed at scales pandas cannot
hold (10^8 to 10^10 records). This subpackage

- checks records against ``data_schemas/transactions.schema.json`` inside the engine
  (:mod:`.schema`), listing every problem with file, row, seller, buyer and product;
- defines every indicator once, as portable SQL (:mod:`.indicators`, where each definition and
  its published source is written out);
- runs the definitions on DuckDB (embedded, the default) or Spark (:mod:`.engines`);
- returns a :class:`~gvcpanel.data.panel.FirmPanel` with provenance (:mod:`.build`);
- simulates records consistent with :func:`gvcpanel.simulate_panel` (:mod:`.simulate`).

Example
-------
>>> import gvcpanel as gp
>>> sim = gp.simulate_transactions(n_firms=60, seed=3)
>>> panel = gp.panel_from_transactions(sim.records, products=sim.products, buyers=sim.buyers,
...                                    firms=sim.firms)
>>> bool((panel.data["n_buyers"] >= 1).all())
True
"""

from gvcpanel.gvc.transactions.build import (TransactionIndicators, TransactionReport,
                                             panel_from_transactions, transaction_indicators,
                                             validate_transactions)
from gvcpanel.gvc.transactions.indicators import DEFINITIONS_VERSION, INDICATORS, indicator_table
from gvcpanel.gvc.transactions.schema import TransactionSchemaError

__all__ = ["DEFINITIONS_VERSION", "INDICATORS", "TransactionIndicators", "TransactionReport",
           "TransactionSchemaError", "indicator_table", "panel_from_transactions",
           "transaction_indicators", "validate_transactions"]
