import CassnapS3
import Foundation
import Testing

@Suite struct HTTPDateTests {
    @Test func parsesIMFFixdate() {
        #expect(
            S3ObjectStore.httpDate("Sun, 06 Nov 1994 08:49:37 GMT")
                == Date(timeIntervalSince1970: 784_111_777))
        #expect(
            S3ObjectStore.httpDate("Mon, 23 Nov 2026 01:28:57 GMT")
                == Date(timeIntervalSince1970: 1_795_397_337))
    }

    @Test(arguments: [
        "", "yesterday", "Sun, 06 Nov 1994 08:49:37 PST", "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 08:49 GMT",
    ])
    func rejectsOtherText(text: String) {
        #expect(S3ObjectStore.httpDate(text) == nil)
    }
}
