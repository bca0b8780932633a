package seed

// The vocabularies synthetic customers and events are drawn from. Values are plain ASCII without
// quotes or backslashes, so the generator can write them into JSON unescaped.

var firstNames = []string{
	"anna", "ben", "carla", "david", "emma", "felix", "greta", "hugo", "ines", "jonas",
	"klara", "leon", "mia", "noah", "olivia", "paul", "quinn", "rosa", "sam", "tara",
	"umar", "vera", "william", "xenia", "yusuf", "zoe", "amelia", "lucas", "sofia", "mateo",
	"chloe", "liam", "aisha", "kenji", "priya", "diego", "elena", "omar", "hannah", "ravi",
	"julia", "marco", "nora", "oscar", "lena", "tom", "maya", "erik", "ida", "luca",
}

var lastNames = []string{
	"smith", "muller", "garcia", "rossi", "martin", "nowak", "jensen", "silva", "kim", "tanaka",
	"brown", "schmidt", "lopez", "bianchi", "dubois", "kowalski", "hansen", "santos", "lee", "sato",
	"wilson", "fischer", "fernandez", "romano", "bernard", "wojcik", "larsen", "costa", "park", "suzuki",
	"taylor", "weber", "gonzalez", "ricci", "petit", "lewandowski", "nielsen", "pereira", "choi", "ito",
	"clark", "wagner", "perez", "greco", "moreau", "kaminski", "berg", "oliveira", "patel", "khan",
}

var emailDomains = []string{"example.com", "example.org", "example.net", "mail.example", "inbox.example"}

type weighted struct {
	value  string
	weight float64
}

var countries = []weighted{
	{"US", 30}, {"DE", 14}, {"GB", 11}, {"FR", 8}, {"NL", 5}, {"ES", 5}, {"IT", 5}, {"CA", 4},
	{"AU", 3}, {"SE", 3}, {"PL", 3}, {"BR", 3}, {"IN", 3}, {"JP", 2}, {"AT", 1}, {"CH", 1},
}

var plans = []weighted{{"free", 58}, {"starter", 22}, {"pro", 15}, {"enterprise", 5}}

var locales = map[string]string{
	"US": "en-US", "DE": "de-DE", "GB": "en-GB", "FR": "fr-FR", "NL": "nl-NL", "ES": "es-ES",
	"IT": "it-IT", "CA": "en-CA", "AU": "en-AU", "SE": "sv-SE", "PL": "pl-PL", "BR": "pt-BR",
	"IN": "en-IN", "JP": "ja-JP", "AT": "de-AT", "CH": "de-CH",
}

var webPages = []struct{ path, title string }{
	{"/", "Home"}, {"/collections/new", "New arrivals"}, {"/collections/sale", "Sale"},
	{"/search", "Search"}, {"/cart", "Cart"}, {"/account", "My account"}, {"/blog/care-guide", "Care guide"},
	{"/help/shipping", "Shipping"}, {"/help/returns", "Returns"}, {"/about", "About us"},
}

var appScreens = []string{"Home", "Search", "Product", "Cart", "Wishlist", "Account", "Orders"}

var referrers = []string{
	"", "", "https://www.google.com/", "https://www.google.com/", "https://www.bing.com/",
	"https://duckduckgo.com/", "https://www.instagram.com/", "https://t.co/", "https://news.example/",
}

var userAgents = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36",
	"Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
}

var appDevices = []struct{ manufacturer, model, kind, osName, osVersion string }{
	{"Apple", "iPhone15,2", "ios", "iOS", "17.5"},
	{"Apple", "iPhone14,5", "ios", "iOS", "17.4"},
	{"Google", "Pixel 8", "android", "Android", "14"},
	{"Samsung", "SM-S918B", "android", "Android", "14"},
}

var productAdjectives = []string{"Classic", "Organic", "Merino", "Linen", "Waxed", "Recycled", "Heavy", "Light", "Alpine", "Coastal"}
var productNouns = []struct{ noun, category string }{
	{"T-Shirt", "apparel"}, {"Hoodie", "apparel"}, {"Jacket", "outerwear"}, {"Beanie", "accessories"},
	{"Backpack", "bags"}, {"Tote", "bags"}, {"Mug", "home"}, {"Blanket", "home"}, {"Socks", "apparel"},
	{"Sneakers", "footwear"}, {"Boots", "footwear"}, {"Water Bottle", "outdoor"},
}

var campaigns = []struct{ id, name, subject string }{
	{"cmp-spring-sale", "Spring Sale", "Up to 40% off for spring"},
	{"cmp-new-arrivals", "New Arrivals", "Fresh in this week"},
	{"cmp-winback", "Win-back", "We miss you - here is 15% off"},
	{"cmp-black-friday", "Black Friday", "Our biggest sale starts now"},
	{"cmp-newsletter", "Monthly Newsletter", "What is new at the shop"},
	{"cmp-cart-reminder", "Cart Reminder", "You left something in your cart"},
}
