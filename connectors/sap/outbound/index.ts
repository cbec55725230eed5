// Orders out to SAP: ORDERS05 IDoc-XML over HTTP (`sap.idoc.orders`), S/4HANA's sales order API
// (`sap.odata.orders`), and the ORDRSP IDocs that bring SAP's number and status back.
export { idocOrdersConnector, writeOrders05, arckey, docnum, type IdocOrdersOptions } from './orders05.ts';
export { s4OrdersConnector, salesOrderBody, describeSapError, DEFAULT_STATUS_RULES, type S4OrdersOptions, type StatusRule } from './s4.ts';
export { handleOrderResponses, readOrderResponses, DEFAULT_ORDRSP_STATUSES, type OrderResponsesReport, type OrderResponseOptions } from './ordrsp.ts';
