import CubbyCore
import Testing

@testable import CubbyKiosk

@Suite("The languages a site may offer")
struct KioskLanguageListTests {
    @Test("are the languages the kiosk speaks")
    func siteLanguagesAreTheKiosks() {
        #expect(Set(SiteSettings.kioskLanguages) == Set(KioskLanguage.allCases.map(\.rawValue)))
        #expect(SiteSettings.kioskLanguages.count == KioskLanguage.allCases.count)
        #expect(SiteSettings.defaultLanguages.allSatisfy(SiteSettings.kioskLanguages.contains))
    }
}
