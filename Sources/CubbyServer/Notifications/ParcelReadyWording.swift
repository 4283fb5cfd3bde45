import CubbyCore
import Foundation

/// Every word of the parcel-ready email and SMS, one value per language: the only place they are written.
struct ParcelReadyWording: Sendable {
    /// The subject, given the place (site or unit name).
    let subject: @Sendable (_ place: String) -> String
    let heading: String
    let intro: String
    let pinLabel: String
    let qrLabel: String
    let qrAlt: String
    let siteLabel: String
    let unitLabel: String
    let compartmentLabel: String
    let expiresLabel: String
    let trackingLabel: String
    let keepPrivate: String
    let unsubscribeLabel: String
    let weekdays: [String]  // Sunday first
    let months: [String]
    let shortMonths: [String]
    /// A full date: weekday, day, month name, year, `HH:mm` and the zone.
    let longDate: @Sendable (_ weekday: String, _ day: Int, _ month: String, _ year: Int, _ time: String) -> String
    /// SMS texts from the fullest to the shortest; each still carries the PIN, the unit and the compartment.
    let sms:
        @Sendable (_ pin: String, _ place: String?, _ unit: String, _ compartment: String, _ expiry: String)
            -> [String]

    static func of(_ language: PreferredLanguage) -> ParcelReadyWording {
        switch language {
        case .en: english
        case .es: spanish
        }
    }

    static let english = ParcelReadyWording(
        subject: { "Your parcel is ready at \($0)" },
        heading: "Your parcel is ready",
        intro:
            "A parcel for you is waiting in a locker. Enter the PIN at the locker, or hold the QR code to its scanner.",
        pinLabel: "PIN",
        qrLabel: "QR code",
        qrAlt: "QR code to open the compartment",
        siteLabel: "Where",
        unitLabel: "Locker",
        compartmentLabel: "Compartment",
        expiresLabel: "Collect it before",
        trackingLabel: "Tracking number",
        keepPrivate: "Keep this PIN and code to yourself: anyone who has them can collect the parcel.",
        unsubscribeLabel: "Stop these emails",
        weekdays: ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
        months: [
            "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
            "November", "December",
        ],
        shortMonths: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
        longDate: { weekday, day, month, year, time in "\(weekday) \(day) \(month) \(year), \(time)" },
        sms: { pin, place, unit, compartment, expiry in
            let at = place.map { "\($0), " } ?? ""
            return [
                "Your parcel is ready at \(at)locker \(unit), compartment \(compartment). PIN \(pin). "
                    + "Collect it before \(expiry). Keep the PIN to yourself.",
                "Parcel ready at \(at)locker \(unit), compartment \(compartment). PIN \(pin). Before \(expiry).",
                "Parcel ready: locker \(unit), compartment \(compartment), PIN \(pin), before \(expiry).",
                "Parcel: \(unit) #\(compartment) PIN \(pin)",
            ]
        })

    static let spanish = ParcelReadyWording(
        subject: { "Tu paquete está listo en \($0)" },
        heading: "Tu paquete está listo",
        intro:
            "Hay un paquete para ti en un casillero. Escribe el PIN en el casillero o acerca el código QR a su lector.",
        pinLabel: "PIN",
        qrLabel: "Código QR",
        qrAlt: "Código QR para abrir el compartimento",
        siteLabel: "Dónde",
        unitLabel: "Casillero",
        compartmentLabel: "Compartimento",
        expiresLabel: "Recógelo antes del",
        trackingLabel: "Número de seguimiento",
        keepPrivate: "No compartas este PIN ni el código: quien los tenga puede recoger el paquete.",
        unsubscribeLabel: "No recibir más estos correos",
        weekdays: ["domingo", "lunes", "martes", "miércoles", "jueves", "viernes", "sábado"],
        months: [
            "enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto", "septiembre", "octubre",
            "noviembre", "diciembre",
        ],
        shortMonths: ["ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sep", "oct", "nov", "dic"],
        longDate: { weekday, day, month, year, time in "\(weekday) \(day) de \(month) de \(year), \(time)" },
        sms: { pin, place, unit, compartment, expiry in
            let at = place.map { "\($0), " } ?? ""
            return [
                "Tu paquete está listo en \(at)casillero \(unit), compartimento \(compartment). PIN \(pin). "
                    + "Recógelo antes del \(expiry). No compartas el PIN.",
                "Paquete listo en \(at)casillero \(unit), compartimento \(compartment). PIN \(pin). "
                    + "Antes del \(expiry).",
                "Paquete listo: casillero \(unit), compartimento \(compartment), PIN \(pin), antes del \(expiry).",
                "Paquete: \(unit) #\(compartment) PIN \(pin)",
            ]
        })
}
