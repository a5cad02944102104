/// The page an acceptor without a backend answers: who the server thinks you are.
enum WhoAmIPage {
    static func render(identity: AcceptorSession.Identity, client: String, acceptsHTML: Bool) -> (body: String, contentType: String) {
        if acceptsHTML {
            let user = escape(identity.qualifiedName)
            let body = "<!DOCTYPE html>\n<html><head><title>ntlmproxy: who am I</title></head><body><h1>Hello, \(user)</h1><p>Authenticated with \(escape(identity.mechanism)) from \(escape(client)).</p></body></html>\n"
            return (body, "text/html; charset=utf-8")
        }
        let body = "user: \(identity.qualifiedName)\ndomain: \(identity.domain)\nname: \(identity.user)\nscheme: \(identity.scheme)\nmechanism: \(identity.mechanism)\nclient: \(client)\n"
        return (body, "text/plain; charset=utf-8")
    }

    static func escape(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
