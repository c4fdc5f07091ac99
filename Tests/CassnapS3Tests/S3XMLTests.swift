import Testing

@testable import CassnapS3

/// Our XML reader on the documents S3-compatible stores answer with, and on broken ones.
@Suite struct S3XMLTests {
    static func parse(_ text: String) -> XMLElementNode? { XMLElementNode.parse(Array(text.utf8)) }

    @Test func listingWithNamespaceEntitiesAndDeclaration() throws {
        let doc = """
            <?xml version="1.0" encoding="UTF-8"?>
            <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
              <Name>bucket</Name><IsTruncated>true</IsTruncated>
              <Contents><Key>a &amp; b/&lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x1F600;</Key><Size>12</Size></Contents>
              <Contents><Key>plain/é.db</Key><Size>0</Size></Contents>
              <NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=</NextContinuationToken>
            </ListBucketResult>
            """
        let root = try #require(Self.parse(doc))
        #expect(root.name == "ListBucketResult")
        #expect(root["IsTruncated"] == "true")
        let contents = root.children("Contents")
        #expect(contents.count == 2)
        #expect(contents[0]["Key"] == "a & b/<c> \"d\" 'e' é😀")
        #expect(contents[1]["Key"] == "plain/é.db")
        #expect(contents[1]["Size"] == "0")
        #expect(root["NextContinuationToken"] == "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=")
    }

    @Test func cdataCommentsSelfClosingAttributesAndPrefixes() throws {
        let doc =
            "\u{FEFF}<!DOCTYPE x><!-- c --><s3:Error a='1>2' b=\"x\"><Code><![CDATA[No<Such>Key]]></Code>"
            + "<Empty/><Empty2 k=\"v\" /><!-- inside --><Message>m</Message></s3:Error>\n"
        let root = try #require(Self.parse(doc))
        #expect(root.name == "Error")
        #expect(root["Code"] == "No<Such>Key")
        #expect(root["Empty"] == "")
        #expect(root["Empty2"] == "")
        #expect(root["Message"] == "m")
    }

    @Test(arguments: [
        "", "   ", "<a>", "<a></b>", "<a><b></a></b>", "<a>&unknown;</a>", "<a>&amp</a>", "text<a/>",
        "<a/><b/>", "<a/>trailing", "<a x=1></a>", "<a><![CDATA[x</a>", "<!DOCTYPE a [<!ENTITY e 'x'>]><a/>",
        "<a><!-- x</a>", "<?xml", "</a>", "<a>&#xD800;</a>",
    ])
    func malformedDocumentsAreRefused(_ doc: String) {
        #expect(Self.parse(doc) == nil)
    }

    @Test func escapedTextReadsBackUnchanged() throws {
        var generator = SystemRandomNumberGenerator()
        let alphabet: [Unicode.Scalar] = [
            "&", "<", ">", "\"", "'", "\n", "\t", "\r", "\u{1}", "a", "é", "😀", " ", ";", "#",
        ]
        for _ in 0..<200 {
            var text = ""
            for _ in 0..<Int.random(in: 0...30, using: &generator) {
                text.unicodeScalars.append(alphabet.randomElement(using: &generator)!)
            }
            let root = try #require(Self.parse("<Key>\(XMLText.escape(text))</Key>"))
            #expect(root.text == text)
        }
    }
}
