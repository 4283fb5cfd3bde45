#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// Why staff cannot retry or redeliver one outbox delivery now; each answers `409` with its own code.
public enum DeliveryError: Error, Equatable, Sendable {
    /// A worker holds the delivery and is sending it now.
    case inProgress
    /// "Retry now" on a final delivery (delivered or dead): it is sent again with redeliver.
    case alreadyFinal(String)
    /// Redeliver on a delivery that is not final (pending or failed): it is made due with retry.
    case notFinal(String)
    /// The message's sealed payload (a PIN or a code) was erased once all its deliveries were final.
    case messageErased
    /// The delivery's webhook subscription is disabled.
    case subscriptionDisabled

    /// The error code of the API's answer.
    public var code: String {
        switch self {
        case .inProgress: "delivery_in_progress"
        case .alreadyFinal: "delivery_final"
        case .notFinal: "delivery_not_final"
        case .messageErased: "message_erased"
        case .subscriptionDisabled: "webhook_disabled"
        }
    }

    /// What to tell the caller.
    public var message: String {
        switch self {
        case .inProgress: "the delivery is being sent now; try again when it has finished"
        case .alreadyFinal(let state): "the delivery is \(state), which is final; redeliver it to send it again"
        case .notFinal(let state): "the delivery is \(state) and will be attempted again; retry it to make it due now"
        case .messageErased:
            "the message held a PIN or a code and was erased once every delivery of it was final; it cannot be sent again"
        case .subscriptionDisabled: "the webhook subscription is disabled; enable it first"
        }
    }
}
