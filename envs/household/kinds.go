package household

// The household's vocabulary, after ALFWorld's object and receptacle types.
// Rooms: k kitchen, l living room, b bedroom, t bathroom.

type recepKind struct {
	name     string
	openable bool
	rooms    string
	max      int  // instances per home
	place    bool // objects start here and goals may name it
}

var recepKinds = []recepKind{
	{"cabinet", true, "klt", 4, true},
	{"drawer", true, "klbt", 4, true},
	{"countertop", false, "kt", 2, true},
	{"diningtable", false, "kl", 1, true},
	{"fridge", true, "k", 1, true},
	{"microwave", true, "k", 1, true},
	{"sinkbasin", false, "kt", 1, true},
	{"stoveburner", false, "k", 2, true},
	{"coffeemachine", false, "k", 1, false},
	{"toaster", false, "k", 1, false},
	{"garbagecan", false, "klbt", 1, true},
	{"shelf", false, "klbt", 3, true},
	{"sofa", false, "l", 1, true},
	{"coffeetable", false, "l", 1, true},
	{"sidetable", false, "lb", 2, true},
	{"armchair", false, "lb", 1, true},
	{"tvstand", false, "l", 1, true},
	{"dresser", false, "lb", 1, true},
	{"bed", false, "b", 1, true},
	{"desk", false, "b", 1, true},
	{"safe", true, "lb", 1, true},
	{"toilet", false, "t", 1, true},
	{"bathtubbasin", false, "t", 1, true},
	{"towelholder", false, "t", 1, false},
}

// lampHolders are where the desklamp of a look-at-in-light task stands.
var lampHolders = map[string]bool{"desk": true, "sidetable": true, "dresser": true, "shelf": true}

type objKind struct {
	name   string
	flags  string // h heatable, c coolable, w cleanable, l a small thing to look at under a lamp
	rooms  string
	unseen bool // held out: appears only in unseen-test homes
}

var objKinds = []objKind{
	{"apple", "hcw", "k", false},
	{"potato", "hcw", "k", false},
	{"tomato", "hcw", "k", false},
	{"egg", "hc", "k", false},
	{"bread", "hc", "k", true},
	{"lettuce", "cw", "k", false},
	{"mug", "hcwl", "kb", false},
	{"cup", "hcw", "k", false},
	{"bowl", "cwl", "klb", false},
	{"plate", "hcw", "k", false},
	{"pan", "cw", "k", false},
	{"pot", "cw", "k", false},
	{"fork", "w", "k", false},
	{"knife", "w", "k", false},
	{"spoon", "w", "k", false},
	{"spatula", "w", "k", false},
	{"ladle", "w", "k", true},
	{"winebottle", "c", "k", false},
	{"saltshaker", "", "k", false},
	{"peppershaker", "", "k", true},
	{"dishsponge", "w", "kt", false},
	{"soapbottle", "", "kt", false},
	{"soapbar", "w", "t", false},
	{"cloth", "w", "t", true},
	{"towel", "", "t", false},
	{"toiletpaper", "", "t", false},
	{"spraybottle", "", "t", false},
	{"candle", "", "t", false},
	{"plunger", "", "t", true},
	{"tissuebox", "", "tlb", false},
	{"book", "l", "lb", false},
	{"cd", "l", "lb", false},
	{"cellphone", "l", "lb", false},
	{"creditcard", "l", "lb", false},
	{"keychain", "l", "lb", false},
	{"pen", "l", "b", false},
	{"pencil", "l", "b", false},
	{"pillow", "l", "lb", false},
	{"alarmclock", "l", "b", false},
	{"laptop", "l", "lb", false},
	{"remotecontrol", "l", "l", false},
	{"watch", "l", "lb", true},
	{"vase", "l", "l", false},
	{"statue", "l", "l", true},
	{"newspaper", "l", "l", false},
	{"box", "l", "lb", false},
	{"teddybear", "l", "b", true},
	{"baseballbat", "", "b", false},
	{"basketball", "", "b", false},
}

// Task types, ALFWorld's six.
const (
	taskPlace = iota // pick_and_place_simple
	taskLook         // look_at_obj_in_light
	taskClean        // pick_clean_then_place_in_recep
	taskHeat         // pick_heat_then_place_in_recep
	taskCool         // pick_cool_then_place_in_recep
	taskTwo          // pick_two_obj_and_place
	numTaskTypes
)

var taskTypeNames = [numTaskTypes]string{"pick_and_place", "look_at_obj_in_light", "clean", "heat", "cool", "pick_two"}

// taskRooms: where each task type can happen (the needed appliance lives there).
var taskRooms = [numTaskTypes]string{"klbt", "lb", "kt", "k", "k", "klbt"}

// taskFlag: the object property a task type needs.
var taskFlag = [numTaskTypes]byte{0, 'l', 'w', 'h', 'c', 0}

// taskAppliance: the receptacle a task type needs (look needs a lamp holder instead).
var taskAppliance = [numTaskTypes]string{"", "", "sinkbasin", "microwave", "fridge", ""}

// goalTemplates, from ALFWorld's goal library; %[1]s is the object, %[2]s the receptacle.
var goalTemplates = [numTaskTypes][2]string{
	{"put a %[1]s in %[2]s.", "put some %[1]s on %[2]s."},
	{"look at %[1]s under the desklamp.", "examine the %[1]s with the desklamp."},
	{"put a clean %[1]s in %[2]s.", "clean some %[1]s and put it in %[2]s."},
	{"put a hot %[1]s in %[2]s.", "heat some %[1]s and put it in %[2]s."},
	{"put a cool %[1]s in %[2]s.", "cool some %[1]s and put it in %[2]s."},
	{"put two %[1]s in %[2]s.", "find two %[1]s and put them in %[2]s."},
}
