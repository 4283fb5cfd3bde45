import CubbyCore

#if canImport(FoundationEssentials)
    import FoundationEssentials
#else
    import Foundation
#endif

/// The languages the kiosk screen speaks.
enum KioskLanguage: String, Sendable, CaseIterable {
    case english = "en"
    case spanish = "es"

    var wording: KioskWording {
        switch self {
        case .english: .english
        case .spanish: .spanish
        }
    }

    /// The first supported language in an `Accept-Language` header, by preference weight.
    static func preferred(acceptLanguage header: String) -> KioskLanguage? {
        var ranked: [(language: KioskLanguage, weight: Double, order: Int)] = []
        for (order, item) in header.split(separator: ",").enumerated() {
            let parts = item.split(separator: ";").map { $0.trimmingWhitespace() }
            guard let range = parts.first, !range.isEmpty else { continue }
            let primary = range.split(separator: "-").first.map { String($0).lowercased() } ?? ""
            guard let language = KioskLanguage(rawValue: primary) else { continue }
            var weight = 1.0
            for parameter in parts.dropFirst() where parameter.lowercased().hasPrefix("q=") {
                weight = Double(parameter.dropFirst(2)) ?? 0
            }
            if weight > 0 { ranked.append((language, weight, order)) }
        }
        return ranked.sorted { $0.weight != $1.weight ? $0.weight > $1.weight : $0.order < $1.order }.first?.language
    }
}

/// Every sentence the kiosk shows, for one language; one instance per language keeps the two complete.
///
/// The functions build sentences that carry a value.
struct KioskWording: Sendable {
    let languageNav: String
    let brand: String
    let offlineBanner: String

    let startTitle: String
    let pickupIntro: String
    let pinHeading: String
    let pinLabel: String
    let pinButton: String
    let qrHeading: String
    let qrLabel: String
    let qrHint: String
    let qrButton: String
    let rfidHeading: String
    let rfidLabel: String
    let rfidHint: String
    let rfidButton: String
    let courierHeading: String
    let courierIntro: String
    let courierButton: String

    let openedTitle: String
    let rejected: String
    let lockedOutTitle: String
    let lockdownTitle: String
    let lockdownMessage: String
    let finished: String
    let backToStart: String

    let signInTitle: String
    let signInIntro: String
    let credentialLabel: String
    let signInButton: String
    let cancel: String
    let signInRefused: String
    let signInRefusedOffline: String

    let dropoffTitle: String
    let parcelHeading: String
    let trackingLabel: String
    let recipientLabel: String
    let sizeLegend: String
    let sizeSmall: String
    let sizeMedium: String
    let sizeLarge: String
    let sizeExtraLarge: String
    let dropoffButton: String
    let doneHeading: String
    let doneIntro: String
    let doneButton: String
    let unitFull: String
    let dropoffOffline: String
    let alreadySent: String
    let sessionEnded: String
    let signedOutTitle: String
    let signedOut: String

    let codeMissing: String
    let codeTooLong: String
    let credentialMissing: String
    let credentialTooLong: String
    let trackingMissing: String
    let trackingTooLong: String
    let recipientMissing: String
    let recipientTooLong: String
    let sizeMissing: String
    let controlCharacters: String
    let formUnreadable: String
    let formTooLarge: String

    let notFoundTitle: String
    let notFound: String
    let wrongMethodTitle: String
    let wrongMethod: String
    let refusedTitle: String
    let crossSite: String
    let failureTitle: String
    let failure: String

    let pinHint: @Sendable (_ digits: Int) -> String
    let opened: @Sendable (_ compartment: String) -> String
    let lockedOut: @Sendable (_ wait: String) -> String
    let wait: @Sendable (_ minutes: Int, _ seconds: Int) -> String
    let signedInAs: @Sendable (_ name: String) -> String
    let putParcel: @Sendable (_ tracking: String, _ compartment: String) -> String
    let dropoffInvalid: @Sendable (_ message: String) -> String
    let idleNote: @Sendable (_ seconds: Int) -> String
}

extension KioskWording {
    static let english = KioskWording(
        languageNav: "Language",
        brand: "Cubby parcel locker",
        offlineBanner: "This locker is offline. Pickups still work; deliveries may have to wait.",
        startTitle: "Pick up a parcel",
        pickupIntro: "Type the PIN from your message, scan your QR code, or hold your card to the reader.",
        pinHeading: "Type your PIN",
        pinLabel: "PIN",
        pinButton: "Open with PIN",
        qrHeading: "Scan a QR code",
        qrLabel: "QR code",
        qrHint: "Hold the code under the scanner; it is read by itself.",
        qrButton: "Open with QR code",
        rfidHeading: "Use a card",
        rfidLabel: "Card number",
        rfidHint: "Hold your card to the reader; it is read by itself.",
        rfidButton: "Open with card",
        courierHeading: "Deliveries",
        courierIntro: "Couriers sign in here to drop off parcels.",
        courierButton: "I'm a courier",
        openedTitle: "Your compartment is open",
        rejected: "That code did not open a compartment. Check it and try again, or ask the building staff for help.",
        lockedOutTitle: "Please wait",
        lockdownTitle: "This locker is locked",
        lockdownMessage: "Staff have been alerted. Nothing can be picked up or delivered until they unlock it.",
        finished: "Done",
        backToStart: "Back to the start",
        signInTitle: "Courier sign-in",
        signInIntro: "Scan or type your courier credential.",
        credentialLabel: "Courier credential",
        signInButton: "Sign in",
        cancel: "Cancel",
        signInRefused: "That credential was not accepted here. Check it and try again.",
        signInRefusedOffline:
            "That credential was not accepted. The locker cannot reach the server right now, so couriers may not be able to sign in.",
        dropoffTitle: "Drop off parcels",
        parcelHeading: "Parcel details",
        trackingLabel: "Tracking number",
        recipientLabel: "Recipient ID",
        sizeLegend: "Parcel size",
        sizeSmall: "S — small",
        sizeMedium: "M — medium",
        sizeLarge: "L — large",
        sizeExtraLarge: "XL — extra large",
        dropoffButton: "Open a compartment",
        doneHeading: "Finished?",
        doneIntro: "Sign out when the last parcel is in.",
        doneButton: "Done",
        unitFull: "No free compartment fits this parcel. Take it with you, or choose a smaller size if it fits one.",
        dropoffOffline: "The locker cannot reach the server, so drop-offs are not possible right now. Try again later.",
        alreadySent: "That form was already sent; nothing was opened again.",
        sessionEnded: "Your courier session has ended. Sign in again to continue.",
        signedOutTitle: "Signed out",
        signedOut: "You are signed out. Thank you.",
        codeMissing: "Type or scan a code first.",
        codeTooLong: "That code is too long to be a pickup code.",
        credentialMissing: "Type or scan your credential first.",
        credentialTooLong: "That credential is too long to be valid.",
        trackingMissing: "Enter the tracking number.",
        trackingTooLong: "The tracking number can have at most 64 characters.",
        recipientMissing: "Enter the recipient ID.",
        recipientTooLong: "The recipient ID can have at most 64 characters.",
        sizeMissing: "Choose the parcel size: S, M, L or XL.",
        controlCharacters: "The entry contains characters that are not allowed.",
        formUnreadable: "The form could not be read. Go back to the start and try again.",
        formTooLarge: "The form is too large. Go back to the start and try again.",
        notFoundTitle: "Page not found",
        notFound: "There is no such page on this locker.",
        wrongMethodTitle: "Not possible",
        wrongMethod: "This page cannot be used that way.",
        refusedTitle: "Refused",
        crossSite: "This request did not come from the locker's own screen, so it was refused.",
        failureTitle: "Something went wrong",
        failure: "Please try again. If it keeps happening, ask the building staff for help.",
        pinHint: { digits in "\(digits) digits, as in your message." },
        opened: { compartment in "Compartment \(compartment) is open — take your parcel and close the door." },
        lockedOut: { wait in "Too many codes were wrong. Try again in \(wait)." },
        wait: { minutes, seconds in
            let m = minutes == 1 ? "1 minute" : "\(minutes) minutes"
            let s = seconds == 1 ? "1 second" : "\(seconds) seconds"
            if minutes == 0 { return s }
            return seconds == 0 ? m : "\(m) \(s)"
        },
        signedInAs: { name in "Signed in: \(name)" },
        putParcel: { tracking, compartment in "Put parcel \(tracking) in compartment \(compartment) and close the door."
        },
        dropoffInvalid: { message in "Not accepted: \(message)" },
        idleNote: { seconds in
            "Without a touch, this screen goes back to the start after \(seconds == 1 ? "1 second" : "\(seconds) seconds")."
        }
    )

    static let spanish = KioskWording(
        languageNav: "Idioma",
        brand: "Casillero de paquetes Cubby",
        offlineBanner:
            "Este casillero está sin conexión. Puede recoger paquetes; las entregas quizá tengan que esperar.",
        startTitle: "Recoger un paquete",
        pickupIntro: "Escriba el PIN de su mensaje, escanee su código QR o acerque su tarjeta al lector.",
        pinHeading: "Escriba su PIN",
        pinLabel: "PIN",
        pinButton: "Abrir con PIN",
        qrHeading: "Escanear un código QR",
        qrLabel: "Código QR",
        qrHint: "Ponga el código bajo el escáner; se lee solo.",
        qrButton: "Abrir con código QR",
        rfidHeading: "Usar una tarjeta",
        rfidLabel: "Número de tarjeta",
        rfidHint: "Acerque su tarjeta al lector; se lee sola.",
        rfidButton: "Abrir con tarjeta",
        courierHeading: "Entregas",
        courierIntro: "Los repartidores inician sesión aquí para dejar paquetes.",
        courierButton: "Soy repartidor",
        openedTitle: "Su compartimento está abierto",
        rejected:
            "Ese código no abrió ningún compartimento. Revíselo e inténtelo de nuevo, o pida ayuda al personal del edificio.",
        lockedOutTitle: "Espere, por favor",
        lockdownTitle: "Este casillero está bloqueado",
        lockdownMessage: "Se ha avisado al personal. No se puede recoger ni entregar nada hasta que lo desbloqueen.",
        finished: "Listo",
        backToStart: "Volver al inicio",
        signInTitle: "Acceso de repartidores",
        signInIntro: "Escanee o escriba su credencial de repartidor.",
        credentialLabel: "Credencial de repartidor",
        signInButton: "Iniciar sesión",
        cancel: "Cancelar",
        signInRefused: "Esa credencial no se aceptó aquí. Revísela e inténtelo de nuevo.",
        signInRefusedOffline:
            "Esa credencial no se aceptó. El casillero no puede conectar con el servidor ahora, así que es posible que los repartidores no puedan iniciar sesión.",
        dropoffTitle: "Dejar paquetes",
        parcelHeading: "Datos del paquete",
        trackingLabel: "Número de seguimiento",
        recipientLabel: "ID del destinatario",
        sizeLegend: "Tamaño del paquete",
        sizeSmall: "S — pequeño",
        sizeMedium: "M — mediano",
        sizeLarge: "L — grande",
        sizeExtraLarge: "XL — muy grande",
        dropoffButton: "Abrir un compartimento",
        doneHeading: "¿Ha terminado?",
        doneIntro: "Cierre la sesión cuando haya dejado el último paquete.",
        doneButton: "Terminar",
        unitFull:
            "Ningún compartimento libre es adecuado para este paquete. Lléveselo, o elija un tamaño menor si cabe en uno.",
        dropoffOffline:
            "El casillero no puede conectar con el servidor, así que ahora no se pueden dejar paquetes. Inténtelo más tarde.",
        alreadySent: "Ese formulario ya se envió; no se abrió nada de nuevo.",
        sessionEnded: "Su sesión de repartidor ha terminado. Inicie sesión de nuevo para continuar.",
        signedOutTitle: "Sesión cerrada",
        signedOut: "Ha cerrado la sesión. Gracias.",
        codeMissing: "Primero escriba o escanee un código.",
        codeTooLong: "Ese código es demasiado largo para ser un código de recogida.",
        credentialMissing: "Primero escriba o escanee su credencial.",
        credentialTooLong: "Esa credencial es demasiado larga para ser válida.",
        trackingMissing: "Escriba el número de seguimiento.",
        trackingTooLong: "El número de seguimiento puede tener como máximo 64 caracteres.",
        recipientMissing: "Escriba el ID del destinatario.",
        recipientTooLong: "El ID del destinatario puede tener como máximo 64 caracteres.",
        sizeMissing: "Elija el tamaño del paquete: S, M, L o XL.",
        controlCharacters: "El texto contiene caracteres que no se permiten.",
        formUnreadable: "No se pudo leer el formulario. Vuelva al inicio e inténtelo de nuevo.",
        formTooLarge: "El formulario es demasiado grande. Vuelva al inicio e inténtelo de nuevo.",
        notFoundTitle: "Página no encontrada",
        notFound: "Esta página no existe en el casillero.",
        wrongMethodTitle: "No es posible",
        wrongMethod: "Esta página no se puede usar de esa manera.",
        refusedTitle: "Rechazado",
        crossSite: "Esta solicitud no vino de la pantalla del casillero, así que se rechazó.",
        failureTitle: "Algo salió mal",
        failure: "Inténtelo de nuevo. Si vuelve a ocurrir, pida ayuda al personal del edificio.",
        pinHint: { digits in "\(digits) dígitos, como en su mensaje." },
        opened: { compartment in "El compartimento \(compartment) está abierto: saque su paquete y cierre la puerta." },
        lockedOut: { wait in "Demasiados códigos incorrectos. Vuelva a intentarlo dentro de \(wait)." },
        wait: { minutes, seconds in
            let m = minutes == 1 ? "1 minuto" : "\(minutes) minutos"
            let s = seconds == 1 ? "1 segundo" : "\(seconds) segundos"
            if minutes == 0 { return s }
            return seconds == 0 ? m : "\(m) y \(s)"
        },
        signedInAs: { name in "Sesión iniciada: \(name)" },
        putParcel: { tracking, compartment in
            "Ponga el paquete \(tracking) en el compartimento \(compartment) y cierre la puerta."
        },
        dropoffInvalid: { message in "No aceptado: \(message)" },
        idleNote: { seconds in
            "Si nadie toca la pantalla, se vuelve al inicio "
                + (seconds == 1 ? "después de 1 segundo." : "a los \(seconds) segundos.")
        }
    )
}
