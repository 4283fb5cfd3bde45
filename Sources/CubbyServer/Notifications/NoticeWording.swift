import CubbyCore
import Foundation

/// Every word of the reminder, the expiry notice and the pickup receipt, by email and SMS, one value per language:
/// the only place they are written. Dates and the labels they share with the parcel-ready message come from
/// ``ParcelReadyWording``.
struct NoticeWording: Sendable {
    let reminderSubject: @Sendable (_ place: String) -> String
    let reminderHeading: String
    /// The first paragraph, given since when the parcel waits.
    let reminderIntro: @Sendable (_ since: String) -> String
    /// Where to look when the code is lost.
    let lostCode: String
    let expirySubject: @Sendable (_ place: String) -> String
    let expiryHeading: String
    let expiryIntro: @Sendable (_ at: String) -> String
    let expiryAdvice: String
    let receiptSubject: @Sendable (_ place: String) -> String
    let receiptHeading: String
    /// "Picked up at 14:02 at Lobby A", given the time and the unit.
    let receiptIntro: @Sendable (_ time: String, _ unit: String) -> String
    let notYou: String
    let waitingSinceLabel: String
    let expiredLabel: String
    let pickedUpLabel: String
    /// SMS texts from the fullest to the shortest.
    let reminderSMS:
        @Sendable (_ place: String?, _ unit: String, _ compartment: String, _ until: String, _ link: String?) ->
            [String]
    let expirySMS: @Sendable (_ place: String?, _ unit: String, _ tracking: String) -> [String]
    let receiptSMS: @Sendable (_ time: String, _ unit: String, _ link: String?) -> [String]

    static func of(_ language: PreferredLanguage) -> NoticeWording {
        switch language {
        case .en: english
        case .es: spanish
        }
    }

    static let english = NoticeWording(
        reminderSubject: { "Reminder: your parcel is waiting at \($0)" },
        reminderHeading: "Your parcel is still waiting",
        reminderIntro: {
            "A parcel for you has been waiting in a locker since \($0). Use the PIN or QR code you were sent."
        },
        lostCode: "Lost the code? Your parcels page shows where each one waits, and the building's staff can help",
        expirySubject: { "Your parcel was not collected at \($0)" },
        expiryHeading: "Your parcel's pickup time is over",
        expiryIntro: { "The parcel was not collected in time and its code stopped working on \($0)." },
        expiryAdvice: "Contact the building's staff to get the parcel: they can take it out of the locker for you.",
        receiptSubject: { "Your parcel was picked up at \($0)" },
        receiptHeading: "Your parcel was picked up",
        receiptIntro: { time, unit in "Picked up at \(time) at \(unit)." },
        notYou: "Not you? Report it",
        waitingSinceLabel: "Waiting since",
        expiredLabel: "Expired",
        pickedUpLabel: "Picked up",
        reminderSMS: { place, unit, compartment, until, link in
            let at = place.map { "\($0), " } ?? ""
            let lost = link.map { " Lost the code? \($0)" } ?? ""
            return [
                "Reminder: your parcel is waiting at \(at)locker \(unit), compartment \(compartment), until \(until).\(lost)",
                "Reminder: your parcel is waiting at \(at)locker \(unit), compartment \(compartment), until \(until).",
                "Reminder: parcel waiting at locker \(unit) #\(compartment) until \(until).",
            ]
        },
        expirySMS: { place, unit, tracking in
            let at = place.map { "\($0), " } ?? ""
            return [
                "Your parcel \(tracking) at \(at)locker \(unit) was not collected in time. Contact the building's staff to get it.",
                "Parcel \(tracking) at locker \(unit) not collected in time. Contact the building's staff.",
                "Parcel at \(unit) expired. Contact the staff.",
            ]
        },
        receiptSMS: { time, unit, link in
            let report = link.map { " Not you? Report it: \($0)" } ?? ""
            return [
                "Your parcel was picked up at \(time) at \(unit).\(report)",
                "Parcel picked up \(time) at \(unit).\(report)",
            ]
        })

    static let spanish = NoticeWording(
        reminderSubject: { "Recordatorio: tu paquete te espera en \($0)" },
        reminderHeading: "Tu paquete sigue esperándote",
        reminderIntro: {
            "Hay un paquete para ti en un casillero desde el \($0). Usa el PIN o el código QR que te enviamos."
        },
        lostCode:
            "¿Perdiste el código? Tu página de paquetes muestra dónde espera cada uno, y el personal del edificio puede ayudarte",
        expirySubject: { "Tu paquete no se recogió en \($0)" },
        expiryHeading: "Terminó el plazo para recoger tu paquete",
        expiryIntro: { "El paquete no se recogió a tiempo y su código dejó de funcionar el \($0)." },
        expiryAdvice: "Contacta al personal del edificio para obtener el paquete: pueden sacarlo del casillero por ti.",
        receiptSubject: { "Se recogió tu paquete en \($0)" },
        receiptHeading: "Se recogió tu paquete",
        receiptIntro: { time, unit in "Recogido a las \(time) en \(unit)." },
        notYou: "¿No fuiste tú? Avísanos",
        waitingSinceLabel: "Esperando desde",
        expiredLabel: "Venció",
        pickedUpLabel: "Recogido",
        reminderSMS: { place, unit, compartment, until, link in
            let at = place.map { "\($0), " } ?? ""
            let lost = link.map { " ¿Perdiste el código? \($0)" } ?? ""
            return [
                "Recordatorio: tu paquete te espera en \(at)casillero \(unit), compartimento \(compartment), "
                    + "hasta el \(until).\(lost)",
                "Recordatorio: tu paquete te espera en \(at)casillero \(unit), compartimento \(compartment), "
                    + "hasta el \(until).",
                "Recordatorio: paquete en casillero \(unit) #\(compartment) hasta el \(until).",
            ]
        },
        expirySMS: { place, unit, tracking in
            let at = place.map { "\($0), " } ?? ""
            return [
                "Tu paquete \(tracking) en \(at)casillero \(unit) no se recogió a tiempo. "
                    + "Contacta al personal del edificio para obtenerlo.",
                "Paquete \(tracking) en casillero \(unit) no recogido a tiempo. Contacta al personal del edificio.",
                "Paquete en \(unit) vencido. Contacta al personal.",
            ]
        },
        receiptSMS: { time, unit, link in
            let report = link.map { " ¿No fuiste tú? Avísanos: \($0)" } ?? ""
            return [
                "Tu paquete se recogió a las \(time) en \(unit).\(report)",
                "Paquete recogido \(time) en \(unit).\(report)",
            ]
        })
}
