// Independent XML-DSig signer/verifier on the JDK (javax.xml.crypto.dsig), for interop tests.
// Run with the single-file launcher (JDK 11+; Ed25519 needs 17):
//   java XmlDsigTool.java sign-batch KEYS_DIR SRC_DIR OUT_DIR
//       signs the source documents with Ed25519 and RSA-PSS (what Debian's xmlsec1 lacks)
//   java XmlDsigTool.java verify CERT.pem FILE.xml [CERT.pem FILE.xml ...]
//       verifies each file with the key of the given (pinned) certificate; exit 0 only if all pass
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.security.*;
import java.security.cert.*;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.*;
import javax.xml.crypto.dsig.*;
import javax.xml.crypto.dsig.dom.*;
import javax.xml.crypto.dsig.keyinfo.*;
import javax.xml.crypto.dsig.spec.*;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.*;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import org.w3c.dom.*;

public class XmlDsigTool {
    static final String ED25519 = "http://www.w3.org/2021/04/xmldsig-more#eddsa-ed25519";
    static final String PSS256 = "http://www.w3.org/2007/05/xmldsig-more#sha256-rsa-MGF1";

    public static void main(String[] args) throws Exception {
        switch (args[0]) {
            case "sign-batch" -> signBatch(Paths.get(args[1]), Paths.get(args[2]), Paths.get(args[3]));
            case "verify" -> {
                boolean ok = true;
                for (int i = 1; i + 1 < args.length; i += 2) ok &= verify(Paths.get(args[i]), Paths.get(args[i + 1]));
                System.exit(ok ? 0 : 1);
            }
            default -> throw new IllegalArgumentException("usage: sign-batch | verify");
        }
    }

    static Document parse(Path file) throws Exception {
        DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
        f.setNamespaceAware(true);
        f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
        Document doc = f.newDocumentBuilder().parse(file.toFile());
        markIds(doc.getDocumentElement());
        return doc;
    }

    // Id, ID and id (no namespace) are ID attributes, as in the Rust profile.
    static void markIds(Element e) {
        for (String name : new String[] {"Id", "ID", "id"}) {
            if (e.hasAttributeNS(null, name)) e.setIdAttributeNS(null, name, true);
        }
        for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
            if (n instanceof Element child) markIds(child);
        }
    }

    static byte[] pem(Path file) throws IOException {
        String text = Files.readString(file, StandardCharsets.US_ASCII);
        String body = text.replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        return Base64.getDecoder().decode(body);
    }

    static PrivateKey privateKey(Path file) throws Exception {
        PKCS8EncodedKeySpec spec = new PKCS8EncodedKeySpec(pem(file));
        for (String alg : new String[] {"RSA", "EC", "Ed25519"}) {
            try { return KeyFactory.getInstance(alg).generatePrivate(spec); } catch (Exception ignored) { }
        }
        throw new IllegalArgumentException("unsupported key " + file);
    }

    static X509Certificate certificate(Path file) throws Exception {
        return (X509Certificate) CertificateFactory.getInstance("X.509")
            .generateCertificate(new ByteArrayInputStream(pem(file)));
    }

    static void signBatch(Path keys, Path src, Path out) throws Exception {
        Map<String, String> ids = Map.of("namespaces", "nachricht-1", "crlf", "crlf-1", "xoev", "antrag-4711");
        String[][] signers = {{"ed25519", "ed25519", ED25519}, {"rsa2048pss", "rsa2048", PSS256}};
        for (String doc : List.of("namespaces", "crlf", "xoev")) {
            for (String[] s : signers) {
                for (String c : List.of("inc", "exc")) {
                    for (String ref : List.of("doc", "id")) {
                        String uri = ref.equals("id") ? "#" + ids.get(doc) : "";
                        String c14n = c.equals("inc") ? CanonicalizationMethod.INCLUSIVE : CanonicalizationMethod.EXCLUSIVE;
                        Document d = parse(src.resolve(doc + ".xml"));
                        sign(d, privateKey(keys.resolve(s[1] + ".key.pem")), certificate(keys.resolve(s[1] + ".cert.pem")), s[2], c14n, uri);
                        write(d, out.resolve(doc + "-" + s[0] + "-" + c + "-" + ref + ".xml"));
                    }
                }
            }
        }
    }

    static void sign(Document doc, PrivateKey key, X509Certificate cert, String sigAlg, String c14n, String uri) throws Exception {
        XMLSignatureFactory fac = XMLSignatureFactory.getInstance("DOM");
        List<Transform> transforms = List.of(
            fac.newTransform(Transform.ENVELOPED, (TransformParameterSpec) null),
            fac.newTransform(c14n, (TransformParameterSpec) null));
        Reference ref = fac.newReference(uri, fac.newDigestMethod(DigestMethod.SHA256, null), transforms, null, null);
        SignedInfo si = fac.newSignedInfo(
            fac.newCanonicalizationMethod(c14n, (C14NMethodParameterSpec) null),
            fac.newSignatureMethod(sigAlg, null), List.of(ref));
        KeyInfoFactory kif = fac.getKeyInfoFactory();
        KeyInfo ki = kif.newKeyInfo(List.of(kif.newX509Data(List.of(cert))));
        DOMSignContext ctx = new DOMSignContext(key, doc.getDocumentElement());
        ctx.setDefaultNamespacePrefix("ds");
        fac.newXMLSignature(si, ki).sign(ctx);
    }

    static void write(Document doc, Path file) throws Exception {
        Transformer t = TransformerFactory.newInstance().newTransformer();
        try (OutputStream os = Files.newOutputStream(file)) {
            t.transform(new DOMSource(doc), new StreamResult(os));
        }
    }

    static boolean verify(Path certFile, Path file) {
        try {
            Document doc = parse(file);
            NodeList sigs = doc.getElementsByTagNameNS(XMLSignature.XMLNS, "Signature");
            if (sigs.getLength() != 1) throw new IllegalStateException(sigs.getLength() + " signatures");
            PublicKey key = certificate(certFile).getPublicKey();
            DOMValidateContext ctx = new DOMValidateContext(key, sigs.item(0));
            XMLSignature sig = XMLSignatureFactory.getInstance("DOM").unmarshalXMLSignature(ctx);
            boolean valid = sig.validate(ctx);
            System.out.println((valid ? "OK   " : "FAIL ") + file);
            return valid;
        } catch (Exception e) {
            System.out.println("FAIL " + file + ": " + e);
            return false;
        }
    }
}
